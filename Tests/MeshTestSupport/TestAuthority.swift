import Foundation

/// A private certificate authority made with Debian's openssl for a test, and what it signed:
/// a server certificate for the name `localhost` only (a client that connects to 127.0.0.1
/// must refuse it: the address is not in it) and a client certificate. PEM files in a folder
/// of their own.
public struct TestAuthority: Sendable {
    public let folder: String
    public var authority: String { folder + "/ca.pem" }
    public var serverCertificate: String { folder + "/server.pem" }
    public var serverKey: String { folder + "/server.key" }
    public var clientCertificate: String { folder + "/client.pem" }
    public var clientKey: String { folder + "/client.key" }

    public static func make() throws -> TestAuthority {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshgate-ca-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let made = TestAuthority(folder: folder)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=MeshGate test authority",
                     "-keyout", folder + "/ca.key", "-out", made.authority])
        try made.sign("server", subject: "/CN=localhost", extensions: "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth")
        try made.sign("client", subject: "/CN=meshgate", extensions: "extendedKeyUsage=clientAuth")
        return made
    }

    private func sign(_ name: String, subject: String, extensions: String) throws {
        let request = folder + "/\(name).csr", options = folder + "/\(name).ext"
        try extensions.write(toFile: options, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", folder + "/\(name).key", "-out", request])
        try Self.openssl(["x509", "-req", "-in", request, "-CA", authority, "-CAkey", folder + "/ca.key", "-CAcreateserial",
                          "-days", "1", "-extfile", options, "-out", folder + "/\(name).pem"])
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CertificateError(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: said, as: UTF8.self))")
        }
    }

    public func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

public struct CertificateError: Error, CustomStringConvertible {
    public let description: String
}
