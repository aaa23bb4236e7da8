import Foundation
import MeshTestSupport
import Synchronization

/// Hosts on networks of their own, for connectivity tests: each host a network namespace
/// joined by a veth pair to the test's own namespace, which routes between them (the
/// router). Host N (from 1) is 10.0.N.2 on 10.0.N.0/24, the router 10.0.N.1 on its side.
/// The router can hide a host behind NAT, forward a public address to it, drop UDP, and cut
/// a host's link. Only these addresses exist: nothing reaches beyond the test.
final class TestNetwork: Sendable {
    struct Host: Sendable {
        /// The network namespace.
        let namespace: String
        let address: String
        /// The router's address on the host's network: where the host reaches the test's servers.
        let router: String
        /// The router's end of the host's link.
        let routerInterface: String
        let subnet: String
    }

    let hosts: [Host]
    private static let made = Atomic<Int>(0)
    /// Network namespaces are named in /run/netns, which every test run on the machine
    /// shares, and a run's process id repeats in each PID namespace: a random tag keeps one
    /// run's names from meeting another's, or those a killed run left behind.
    private static let runTag = String(UInt32.random(in: 0 ..< 1 << 30), radix: 36)

    /// Makes `count` hosts; those in `natted` reach the others only through the router's
    /// NAT (masquerade, as a home router does: nothing from outside gets in unasked).
    init(hosts count: Int, natted: Set<Int> = []) throws {
        let serial = Self.made.add(1, ordering: .relaxed).newValue
        hosts = (1...count).map { index in
            Host(namespace: "mg\(Self.runTag)n\(serial)h\(index)", address: "10.0.\(index).2", router: "10.0.\(index).1",
                 routerInterface: "mg\(serial)r\(index)", subnet: "10.0.\(index).0/24")
        }
        try Self.run("/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1")
        for host in hosts {
            try Self.run("/usr/sbin/ip", "netns", "add", host.namespace)
            try Self.run("/usr/sbin/ip", "link", "add", host.routerInterface, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
            try Self.run("/usr/sbin/ip", "addr", "add", host.router + "/24", "dev", host.routerInterface)
            try Self.run("/usr/sbin/ip", "link", "set", host.routerInterface, "up")
            for command in [["addr", "add", host.address + "/24", "dev", "eth0"], ["link", "set", "eth0", "up"], ["link", "set", "lo", "up"],
                            ["route", "add", "default", "via", host.router]] {
                try Self.run("/usr/sbin/ip", ["-n", host.namespace] + command)
            }
        }
        // A link is running a moment after it is up (the kernel's link watch), and libnice
        // gathers no candidate on one that is not: a gateway started at once would have none.
        for host in hosts { try Self.waitUntilRunning(host) }
        var rules = "table ip meshgate_\(serial) {\n"
        // What comes to a host behind NAT from outside gets in only as an answer.
        rules += "  chain forward { type filter hook forward priority 0; policy accept;\n    ct state established,related accept\n"
        for index in natted.sorted() {
            rules += "    oifname \"\(hosts[index - 1].routerInterface)\" drop\n"
        }
        rules += "  }\n  chain postrouting { type nat hook postrouting priority 100;\n"
        for index in natted.sorted() {
            let host = hosts[index - 1]
            rules += "    ip saddr \(host.subnet) oifname != \"\(host.routerInterface)\" masquerade\n"
        }
        rules += "  }\n  chain prerouting { type nat hook prerouting priority -100; }\n}\n"
        table = "meshgate_\(serial)"
        try nft(rules)
    }

    private let table: String

    deinit {
        for host in hosts { try? Self.run("/usr/sbin/ip", "netns", "delete", host.namespace) }
        try? Self.run("/usr/sbin/nft", "delete", "table", "ip", table)
    }

    /// Runs `arguments` (meshgate's, unless `executable` says otherwise) on `host`.
    func run(on host: Host, _ arguments: [String], executable: String = MeshgateProcess.binary,
             environment: [String: String] = [:]) throws -> MeshgateProcess {
        try MeshgateProcess(["netns", "exec", host.namespace, executable] + arguments, environment: environment, executable: "/usr/sbin/ip")
    }

    /// Gives `host` another interface, `name` with `address` (a VPN, docker0, a second card).
    func addInterface(_ name: String, address: String, on host: Host) throws {
        // A veth pair, both ends on the host: the kernels tests run on may lack dummy links.
        for command in [["link", "add", name, "type", "veth", "peer", "name", name + "p"], ["addr", "add", address + "/24", "dev", name],
                        ["link", "set", name + "p", "up"], ["link", "set", name, "up"]] {
            try Self.run("/usr/sbin/ip", ["-n", host.namespace] + command)
        }
    }

    /// Drops every UDP packet the router would forward: a firewall that lets only TCP through.
    func dropUDP() throws {
        try nft("add rule ip \(table) forward meta l4proto udp drop\n")
    }

    /// Makes `publicAddress` (an address of the router's side of `via`) `host`'s, as a
    /// cloud's 1:1 NAT does: what comes to it goes to the host, and what the host sends out
    /// leaves from it (ports kept).
    func forward(_ publicAddress: String, on via: Host, to host: Host) throws {
        try Self.run("/usr/sbin/ip", "addr", "add", publicAddress + "/32", "dev", via.routerInterface)
        try nft("add rule ip \(table) prerouting ip daddr \(publicAddress) dnat to \(host.address)\n"
            + "insert rule ip \(table) forward ct status dnat accept\n"
            + "insert rule ip \(table) postrouting ip saddr \(host.address) oifname != \"\(host.routerInterface)\" snat to \(publicAddress)\n")
    }

    /// Takes `host`'s link down (everything to and from it is lost) or up again.
    func setLink(of host: Host, up: Bool) throws {
        try Self.run("/usr/sbin/ip", "link", "set", host.routerInterface, up ? "up" : "down")
    }

    private func nft(_ rules: String) throws {
        try Self.run("/usr/sbin/nft", ["-f", "-"], input: rules)
    }

    private static func waitUntilRunning(_ host: Host) throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            // "state UP" is the operational state, which the link watch sets (and with it
            // IFF_RUNNING, which libnice looks at); LOWER_UP, the carrier, comes before.
            if try run("/usr/sbin/ip", ["-n", host.namespace, "-o", "link", "show", "eth0"]).contains(" state UP "),
               try run("/usr/sbin/ip", ["-o", "link", "show", host.routerInterface]).contains(" state UP ") {
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw Timeout(description: "the link of \(host.namespace) did not come up within 5 s")
    }

    private static func run(_ executable: String, _ arguments: String...) throws {
        try run(executable, arguments)
    }

    /// Runs a command to its end and returns what it printed; one that fails is an error
    /// with what it said.
    @discardableResult
    private static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe(), feed = Pipe()
        process.standardOutput = output
        process.standardError = errors
        if input != nil { process.standardInput = feed }
        try process.run()
        if let input {
            feed.fileHandleForWriting.write(Data(input.utf8))
            try feed.fileHandleForWriting.close()
        }
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Timeout(description: "\(([executable] + arguments).joined(separator: " ")) failed: \(text)\(input ?? "")")
        }
        return String(decoding: printed, as: UTF8.self)
    }
}
