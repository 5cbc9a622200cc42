public import Crypto
import _CryptoExtras
import Foundation

/// What is done to one finding (Presidio's anonymizer operators), ready to apply: keys read,
/// parameters checked.
public enum Operator: Sendable {
    /// `new_value`, default `<ENTITY_TYPE>`.
    case replace(String?)
    /// Removes the text.
    case redact
    /// `chars_to_mask` characters replaced by `masking_char`, from the start or from the end.
    case mask(character: Character, count: Int, fromEnd: Bool)
    /// HMAC of the text, hexadecimal: one value gets one pseudonym wherever the key is the same.
    case hash(HashKind, SymmetricKey)
    /// AES-CBC with a random IV, PKCS#7 padding, URL-safe Base64 of IV and ciphertext — the
    /// format of Presidio's `encrypt`, so either can decrypt what the other encrypted.
    case encrypt(SymmetricKey)
    /// Leaves the text as it is (the finding is still reported).
    case keep

    public enum HashKind: String, Sendable { case sha256, sha512 }

    /// The operator `configuration` describes; keys come from `environment`.
    public init(_ configuration: OperatorConfiguration, environment: [String: String]) throws(AnonymizerError) {
        switch configuration.type {
        case "replace": self = .replace(configuration.newValue)
        case "redact": self = .redact
        case "keep": self = .keep
        case "mask":
            guard let characters = configuration.maskingChar, characters.count == 1, let character = characters.first else {
                throw .invalidConfiguration("operator 'mask': masking_char must be one character")
            }
            guard let count = configuration.charsToMask, count >= 0 else {
                throw .invalidConfiguration("operator 'mask': chars_to_mask must be a number of characters, 0 or more")
            }
            self = .mask(character: character, count: count, fromEnd: configuration.fromEnd ?? false)
        case "hash":
            guard let kind = HashKind(rawValue: configuration.hashType ?? "sha256") else {
                throw .invalidConfiguration("operator 'hash': hash_type '\(configuration.hashType?.prefix(20) ?? "")' is not offered; use sha256 or sha512")
            }
            self = .hash(kind, try Self.key(configuration.keyEnv ?? "FERRY_ANONYMIZE_HASH_KEY", environment: environment, for: "hash", sizes: nil))
        case "encrypt":
            self = .encrypt(try Self.key(configuration.keyEnv ?? "FERRY_ANONYMIZE_AES_KEY", environment: environment, for: "encrypt", sizes: [16, 24, 32]))
        case "decrypt":
            throw .invalidConfiguration("'decrypt' restores encrypted values (ferry anonymize --decrypt); it is not an operator for findings")
        default:
            throw .invalidConfiguration("operator type '\(configuration.type.prefix(40))' is unknown")
        }
    }

    /// The key in `environment[name]`: its UTF-8 bytes, as Presidio takes its AES key.
    static func key(_ name: String, environment: [String: String], for operation: String, sizes: [Int]?) throws(AnonymizerError) -> SymmetricKey {
        guard let value = environment[name], !value.isEmpty else {
            throw .invalidConfiguration("operator '\(operation)' needs a key in the environment variable \(name) (not set)")
        }
        let bytes = Array(value.utf8)
        if let sizes, !sizes.contains(bytes.count) {
            throw .invalidConfiguration("operator '\(operation)': the key in \(name) has \(bytes.count) bytes; AES needs 16, 24 or 32")
        }
        if sizes == nil, bytes.count < 16 {
            throw .invalidConfiguration("operator '\(operation)': the key in \(name) has \(bytes.count) bytes; use at least 16 (32 random bytes, say)")
        }
        return SymmetricKey(data: bytes)
    }

    /// The operator's name as Presidio reports it.
    public var name: String {
        switch self {
        case .replace: "replace"
        case .redact: "redact"
        case .mask: "mask"
        case .hash: "hash"
        case .encrypt: "encrypt"
        case .keep: "keep"
        }
    }

    /// Appends the replacement of `original` (the finding's bytes) to `output`.
    func apply(_ original: UnsafeBufferPointer<UInt8>, entity: String, to output: inout [UInt8]) {
        switch self {
        case .replace(let value):
            if let value {
                output.append(contentsOf: value.utf8)
            } else {
                output.append(UInt8(ascii: "<"))
                output.append(contentsOf: entity.utf8)
                output.append(UInt8(ascii: ">"))
            }
        case .redact:
            break
        case .keep:
            output.append(contentsOf: original)
        case .mask(let character, let count, let fromEnd):
            // Characters, not bytes: "Müller" masked by 3 is "***ler".
            let text = String(decoding: original, as: UTF8.self)
            let characters = Array(text)
            let masked = min(count, characters.count)
            let mask = String(repeating: character, count: masked)
            let result = fromEnd ? String(characters.dropLast(masked)) + mask : mask + String(characters.dropFirst(masked))
            output.append(contentsOf: result.utf8)
        case .hash(let kind, let key):
            let digest: [UInt8] = switch kind {
            case .sha256: Array(HMAC<SHA256>.authenticationCode(for: original, using: key))
            case .sha512: Array(HMAC<SHA512>.authenticationCode(for: original, using: key))
            }
            let hex = Array("0123456789abcdef".utf8)
            for byte in digest {
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            }
        case .encrypt(let key):
            let iv = AES._CBC.IV()
            // Encryption with a valid key size and a fresh IV does not fail.
            let ciphertext = (try? AES._CBC.encrypt(Array(original), using: key, iv: iv)) ?? Data()
            output.append(contentsOf: Self.base64URL(Data(iv) + ciphertext).utf8)
        }
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// Restores a value made by ``encrypt`` (or by Presidio's `encrypt` with the same key).
    public static func decrypt(_ token: String, keyEnv: String = "FERRY_ANONYMIZE_AES_KEY", environment: [String: String]) throws(AnonymizerError) -> String {
        try decrypt(token, using: try Self.key(keyEnv, environment: environment, for: "decrypt", sizes: [16, 24, 32]))
    }

    /// Restores a value made by ``encrypt`` with `key` (16, 24 or 32 bytes).
    public static func decrypt(_ token: String, using key: SymmetricKey) throws(AnonymizerError) -> String {
        let standard = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let padded = standard + String(repeating: "=", count: (4 - standard.count % 4) % 4)
        guard let data = Data(base64Encoded: padded), data.count >= 32, data.count % 16 == 0 else {
            throw .decryptionFailed("'\(token.prefix(60))' is not the URL-safe Base64 of an IV and AES blocks")
        }
        do {
            let iv = try AES._CBC.IV(ivBytes: data.prefix(16))
            let plain = try AES._CBC.decrypt(data.dropFirst(16), using: key, iv: iv)
            guard let text = String(data: plain, encoding: .utf8) else { throw AnonymizerError.decryptionFailed("the plaintext is not UTF-8 (wrong key?)") }
            return text
        } catch let error as AnonymizerError {
            throw error
        } catch {
            throw .decryptionFailed("the padding does not check out: a wrong key, or a damaged value")
        }
    }
}
