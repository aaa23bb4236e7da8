import Testing
@testable import MeshServer

@Suite struct OriginListTests {
    @Test func anEmptyListAllowsAnyOriginAndNoOriginIsAlwaysAllowed() {
        #expect(OriginList([]).allows("https://evil.example"))
        #expect(OriginList(["https://call.example"]).allows(nil))
    }

    @Test func originsCompareAsBrowsersWriteThem() {
        let list = OriginList(["https://Call.Example/", "http://localhost:8000"])
        #expect(list.allows("https://call.example"))
        #expect(list.allows("https://call.example:443"))
        #expect(list.allows("http://localhost:8000"))
        #expect(!list.allows("http://call.example"))
        #expect(!list.allows("https://call.example:8443"))
        #expect(!list.allows("https://call.example.evil.example"))
        #expect(!list.allows("http://localhost:8001"))
        #expect(!list.allows("null"))
        #expect(!list.allows("garbage"))
    }

    @Test(arguments: ["call.example", "https://", "https://call.example/path", "https://a b", "://x"])
    func notAnOrigin(text: String) {
        #expect(OriginList.normalized(text) == nil)
    }
}
