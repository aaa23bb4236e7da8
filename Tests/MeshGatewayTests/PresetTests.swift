@testable import MeshGateway
import Testing

/// Presets take `${NAME}` from the environment, quoted for gst-launch.
struct PresetTests {
    @Test func variablesComeFromTheEnvironmentEscaped() throws {
        let text = #"filesrc location="${MESHGATE_FILE}" ! decodebin name=loop"#
        let expanded = try Preset.expandingVariables(in: text, preset: "file-loop", environment: ["MESHGATE_FILE": #"/tmp/a "b"\c.mp4"#])
        #expect(expanded == #"filesrc location="/tmp/a \"b\"\\c.mp4" ! decodebin name=loop"#)
    }

    @Test func aMissingVariableSaysWhichAndHow() {
        let error = #expect(throws: GatewayError.self) {
            try Preset.expandingVariables(in: "location=${NOPE}", preset: "x", environment: [:])
        }
        #expect(error?.description.contains("preset x needs NOPE: set it") == true)
    }

    @Test func textWithoutVariablesIsUnchanged() throws {
        #expect(try Preset.expandingVariables(in: "a ! b $HOME {x}", preset: "x", environment: [:]) == "a ! b $HOME {x}")
    }
}
