/// A failure at run time: ArgumentParser prints it as one line and exits 1 (DESIGN.md).
struct RuntimeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
