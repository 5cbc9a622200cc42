/// A hash that stays the same across processes, machines and versions (unlike `Hasher`): for
/// keys that are stored, such as an import row's identity or a mail's Message-ID.
public enum StableHash {
    /// 128 bits of FNV-1a (two 64-bit passes with different offsets), as 32 hex digits.
    /// Not cryptographic: for identities, not for secrets.
    public static func hex128(_ text: String) -> String {
        func fnv(_ offset: UInt64) -> UInt64 {
            var hash = offset
            for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return hash
        }
        return [fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4)]
            .map { String($0, radix: 16) }
            .map { String(repeating: "0", count: 16 - $0.count) + $0 }
            .joined()
    }
}
