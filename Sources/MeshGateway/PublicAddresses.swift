/// `--public-address`: the addresses others reach this box at when it sits behind a 1:1 NAT
/// or in a container with published ports. Each local UDP host candidate is also announced
/// with each public address and the same port, as MediaMTX's `webrtcAdditionalHosts` and
/// go2rtc's `candidates` do: the NAT forwards that port to the local one, where libnice
/// answers the peer's checks. Pure, so the rewriting is tested on its own.
struct PublicAddresses {
    let addresses: [String]

    /// The candidates to announce besides `line` (an `a=candidate` value without the `a=`),
    /// one per public address; none for other kinds of candidate.
    func extraCandidates(for line: String) -> [String] {
        var fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        // candidate:FOUNDATION COMPONENT PROTOCOL PRIORITY ADDRESS PORT typ TYPE ...
        guard fields.count >= 8, fields[0].hasPrefix("candidate:"), fields[2].lowercased() == "udp", fields[6] == "typ", fields[7] == "host",
              let priority = UInt32(fields[3]), priority > 0, !fields[4].contains(":"), !addresses.contains(fields[4]) else { return [] }
        let foundation = fields[0].dropFirst("candidate:".count)
        return addresses.enumerated().map { index, address in
            // A foundation of its own (another address), and just below the local one: a peer
            // that reaches the local address directly keeps using it.
            fields[0] = "candidate:\(foundation)p\(index + 1)"
            fields[3] = String(priority - 1 - UInt32(index))
            fields[4] = address
            return fields.joined(separator: " ")
        }
    }
}
