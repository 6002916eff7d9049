using System.Security.Cryptography;
using System.Text;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>AccessKey credentials; <see cref="SecurityToken"/> is set for STS credentials.</summary>
public sealed record AcsCredentials(string AccessKeyId, string AccessKeySecret, string? SecurityToken = null)
{
    // Records print every property by default; credentials end up in logs, so the secrets never do.
    public override string ToString() =>
        $"AcsCredentials {{ AccessKeyId = {AccessKeyId}, AccessKeySecret = ***, SecurityToken = {(SecurityToken is null ? "(none)" : "***")} }}";
}

/// <summary>The encodings both Alibaba Cloud signature schemes share.</summary>
public static class AcsEncoding
{
    /// <summary>
    /// RFC 3986 percent-encoding over UTF-8: A-Z a-z 0-9 - _ . ~ kept, everything else %XX with uppercase hex
    /// (space gives %20, * gives %2A, ~ is kept), unlike form encoding.
    /// </summary>
    public static string PercentEncode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = Encoding.UTF8.GetBytes(value);
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (IsUnreserved(b))
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(Hex[b >> 4]).Append(Hex[b & 0xF]);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// The canonical query string: pairs sorted by encoded key (ordinal), then encoded value; "k=v" joined by '&amp;';
    /// an empty value gives "k=".
    /// </summary>
    public static string CanonicalQuery(IEnumerable<KeyValuePair<string, string>> query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var pairs = query
            .Select(p => (Key: PercentEncode(p.Key), Value: PercentEncode(p.Value ?? "")))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal);
        return string.Join('&', pairs.Select(p => p.Key + "=" + p.Value));
    }

    /// <summary>The resource path with every segment encoded; '/' separators kept and an empty path is "/".</summary>
    internal static string CanonicalPath(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "/";
        }

        return string.Join('/', path.Split('/').Select(PercentEncode));
    }

    private const string Hex = "0123456789ABCDEF";

    private static bool IsUnreserved(byte b) =>
        b is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9')
            or (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~';
}

/// <summary>ACS3-HMAC-SHA256, the V3 signature of Alibaba Cloud OpenAPI.</summary>
public static class AcsV3Signature
{
    public const string Algorithm = "ACS3-HMAC-SHA256";

    internal const string HostHeader = "host";
    internal const string ContentTypeHeader = "content-type";
    internal const string AuthorizationHeader = "authorization";
    internal const string ContentSha256Header = "x-acs-content-sha256";
    internal const string SecurityTokenHeader = "x-acs-security-token";

    // The headers every V3 call carries besides the payload hash; the API rejects a request without one of them.
    internal static readonly string[] RequiredHeaders =
        [HostHeader, "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"];

    /// <summary>Lowercase hex SHA-256.</summary>
    public static string HashHex(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(data, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>
    /// CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n HashedRequestPayload.
    /// Signed headers: host, content-type (if present) and every x-acs-* header, names lowercased, sorted, values trimmed;
    /// CanonicalHeaders lines "name:value\n".
    /// </summary>
    public static string CanonicalRequest(
        string method,
        string path,
        IEnumerable<KeyValuePair<string, string>> query,
        IReadOnlyDictionary<string, string> headers,
        string hashedPayload,
        out string signedHeaders)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var normalised = NormaliseOrThrow(headers, nameof(headers));
        var names = SignableNames(normalised);
        signedHeaders = string.Join(';', names);
        return CanonicalRequest(method, path, query, normalised, names, hashedPayload);
    }

    /// <summary>
    /// Signs a request in place: sets x-acs-content-sha256 (hash of <paramref name="body"/>) and, for STS credentials,
    /// x-acs-security-token in <paramref name="headers"/> before signing so both are signed, then returns the
    /// Authorization header value. <paramref name="headers"/> must already hold host, x-acs-action, x-acs-version,
    /// x-acs-date and x-acs-signature-nonce; names may come in any case.
    /// </summary>
    public static string Sign(
        string method,
        string path,
        IEnumerable<KeyValuePair<string, string>> query,
        IDictionary<string, string> headers,
        ReadOnlySpan<byte> body,
        AcsCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(credentials);

        var normalised = NormaliseOrThrow(headers, nameof(headers));
        foreach (var required in RequiredHeaders)
        {
            if (!normalised.ContainsKey(required))
            {
                throw new ArgumentException($"The request has no {required} header.", nameof(headers));
            }
        }

        var hashedPayload = HashHex(body);
        SetHeader(headers, normalised, ContentSha256Header, hashedPayload);
        if (credentials.SecurityToken is { } token)
        {
            SetHeader(headers, normalised, SecurityTokenHeader, token);
        }

        var names = SignableNames(normalised);
        var canonical = CanonicalRequest(method, path, query, normalised, names, hashedPayload);
        var signature = Signature(credentials.AccessKeySecret, canonical);
        return $"{Algorithm} Credential={credentials.AccessKeyId},SignedHeaders={string.Join(';', names)},Signature={signature}";
    }

    /// <summary>
    /// Server side, for an emulator of the API: parses Authorization, checks x-acs-content-sha256 matches the body,
    /// recomputes the signature over the request's own SignedHeaders list with the secret <paramref name="secretOf"/>
    /// returns for the key id (null: unknown key) and compares in constant time. On false, <paramref name="error"/>
    /// names what is wrong.
    /// </summary>
    public static bool Verify(
        string method,
        string path,
        IEnumerable<KeyValuePair<string, string>> query,
        IReadOnlyDictionary<string, string> headers,
        ReadOnlySpan<byte> body,
        Func<string, string?> secretOf,
        out string? error)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(secretOf);

        var normalised = Normalise(headers, out error);
        if (normalised is null)
        {
            return false;
        }

        if (!normalised.TryGetValue(AuthorizationHeader, out var authorization))
        {
            error = "missing Authorization header";
            return false;
        }

        if (!TryParseAuthorization(authorization, out var keyId, out var signedNames, out var presented, out error))
        {
            return false;
        }

        var secret = secretOf(keyId);
        if (secret is null)
        {
            error = $"unknown AccessKeyId '{keyId}'";
            return false;
        }

        foreach (var required in RequiredHeaders.Append(ContentSha256Header))
        {
            if (!normalised.ContainsKey(required))
            {
                error = $"missing header {required}";
                return false;
            }
        }

        foreach (var name in signedNames)
        {
            if (!normalised.ContainsKey(name))
            {
                error = $"missing header {name} (listed in SignedHeaders)";
                return false;
            }
        }

        // An unsigned x-acs-* header (the action, the token...) could be swapped without breaking the signature.
        foreach (var name in normalised.Keys)
        {
            if ((name == HostHeader || IsAcsHeader(name)) && signedNames.BinarySearch(name, StringComparer.Ordinal) < 0)
            {
                error = $"header {name} is not in SignedHeaders";
                return false;
            }
        }

        var hashedPayload = HashHex(body);
        if (!string.Equals(normalised[ContentSha256Header].Trim(), hashedPayload, StringComparison.OrdinalIgnoreCase))
        {
            error = $"payload hash mismatch: {ContentSha256Header} does not match the body";
            return false;
        }

        var canonical = CanonicalRequest(method, path, query, normalised, signedNames, hashedPayload);
        var expected = Convert.FromHexString(Signature(secret, canonical));
        if (!CryptographicOperations.FixedTimeEquals(expected, presented))
        {
            error = "signature mismatch";
            return false;
        }

        error = null;
        return true;
    }

    internal static string CanonicalRequest(
        string method,
        string path,
        IEnumerable<KeyValuePair<string, string>> query,
        IReadOnlyDictionary<string, string> normalisedHeaders,
        IReadOnlyList<string> signedNames,
        string hashedPayload)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(hashedPayload);

        var sb = new StringBuilder();
        sb.Append(method.ToUpperInvariant()).Append('\n');
        sb.Append(AcsEncoding.CanonicalPath(path)).Append('\n');
        sb.Append(AcsEncoding.CanonicalQuery(query)).Append('\n');
        foreach (var name in signedNames)
        {
            sb.Append(name).Append(':').Append(normalisedHeaders[name].Trim()).Append('\n');
        }

        sb.Append('\n');
        sb.Append(string.Join(';', signedNames)).Append('\n');
        sb.Append(hashedPayload);
        return sb.ToString();
    }

    internal static string Signature(string secret, string canonicalRequest)
    {
        var stringToSign = Algorithm + "\n" + HashHex(Encoding.UTF8.GetBytes(canonicalRequest));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(stringToSign)));
    }

    /// <summary>Reads "ACS3-HMAC-SHA256 Credential=..,SignedHeaders=a;b,Signature=hex".</summary>
    internal static bool TryParseAuthorization(
        string authorization,
        out string keyId,
        out List<string> signedNames,
        out byte[] signature,
        out string? error)
    {
        keyId = "";
        signedNames = [];
        signature = [];

        var value = authorization.Trim();
        if (!value.StartsWith(Algorithm + " ", StringComparison.Ordinal))
        {
            error = $"malformed Authorization: the algorithm is not {Algorithm}";
            return false;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in value[(Algorithm.Length + 1)..].Split(','))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                error = $"malformed Authorization: '{part.Trim()}' is not name=value";
                return false;
            }

            var name = part[..eq].Trim();
            if (name is not ("Credential" or "SignedHeaders" or "Signature"))
            {
                error = $"malformed Authorization: unexpected field {name}";
                return false;
            }

            if (!fields.TryAdd(name, part[(eq + 1)..].Trim()))
            {
                error = $"malformed Authorization: {name} given twice";
                return false;
            }
        }

        if (!fields.TryGetValue("Credential", out var credential) || credential.Length == 0
            || !fields.TryGetValue("SignedHeaders", out var headerList) || headerList.Length == 0
            || !fields.TryGetValue("Signature", out var hex) || hex.Length == 0)
        {
            error = "malformed Authorization: Credential, SignedHeaders and Signature are all required";
            return false;
        }

        var names = headerList.Split(';');
        for (var i = 0; i < names.Length; i++)
        {
            // The canonical form is lowercase, sorted and distinct; anything else cannot have been signed as sent.
            if (names[i].Length == 0 || names[i] != names[i].ToLowerInvariant()
                || (i > 0 && string.CompareOrdinal(names[i - 1], names[i]) >= 0))
            {
                error = "malformed Authorization: SignedHeaders must be lowercase, sorted and distinct";
                return false;
            }
        }

        if (hex.Length != SHA256.HashSizeInBytes * 2)
        {
            error = "malformed Authorization: Signature is not a hex SHA-256 HMAC";
            return false;
        }

        try
        {
            signature = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            error = "malformed Authorization: Signature is not a hex SHA-256 HMAC";
            return false;
        }

        keyId = credential;
        signedNames = [.. names];
        error = null;
        return true;
    }

    private static List<string> SignableNames(IReadOnlyDictionary<string, string> normalised)
    {
        var names = normalised.Keys
            .Where(n => n == HostHeader || n == ContentTypeHeader || IsAcsHeader(n))
            .ToList();
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    private static bool IsAcsHeader(string lowercaseName) => lowercaseName.StartsWith("x-acs-", StringComparison.Ordinal);

    private static Dictionary<string, string>? Normalise(IEnumerable<KeyValuePair<string, string>> headers, out string? error)
    {
        var normalised = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in headers)
        {
            if (!normalised.TryAdd(name.Trim().ToLowerInvariant(), value ?? ""))
            {
                // Two spellings of one header leave it ambiguous which value was signed.
                error = $"duplicate header {name.Trim().ToLowerInvariant()}";
                return null;
            }
        }

        error = null;
        return normalised;
    }

    private static Dictionary<string, string> NormaliseOrThrow(IEnumerable<KeyValuePair<string, string>> headers, string paramName) =>
        Normalise(headers, out var error) ?? throw new ArgumentException($"The request has a {error}.", paramName);

    // Replaces any spelling of the header in the caller's dictionary so the request carries exactly the signed value.
    private static void SetHeader(IDictionary<string, string> headers, Dictionary<string, string> normalised, string name, string value)
    {
        foreach (var key in headers.Keys.Where(k => string.Equals(k.Trim(), name, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            headers.Remove(key);
        }

        headers[name] = value;
        normalised[name] = value;
    }
}

/// <summary>The RPC scheme: HMAC-SHA1, signature version 1.0, the signature carried as a query parameter.</summary>
public static class AcsRpcSignature
{
    internal const string SignatureParameter = "Signature";
    internal const string AccessKeyIdParameter = "AccessKeyId";

    /// <summary>
    /// StringToSign = METHOD + "&amp;" + PercentEncode("/") + "&amp;" + PercentEncode(CanonicalQuery(parameters without "Signature"));
    /// Signature = Base64(HMAC-SHA1(secret + "&amp;", StringToSign)).
    /// </summary>
    public static string Sign(string method, IEnumerable<KeyValuePair<string, string>> parameters, string accessKeySecret)
    {
        ArgumentNullException.ThrowIfNull(accessKeySecret);
        return Convert.ToBase64String(Hmac(method, parameters, accessKeySecret));
    }

    /// <summary>
    /// Server side: reads AccessKeyId and Signature from <paramref name="parameters"/>, looks the secret up with
    /// <paramref name="secretOf"/> (null: unknown key) and compares in constant time. On false, <paramref name="error"/>
    /// names what is wrong.
    /// </summary>
    public static bool Verify(string method, IEnumerable<KeyValuePair<string, string>> parameters, Func<string, string?> secretOf, out string? error)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(secretOf);

        var list = parameters.ToList();
        if (!TrySingle(list, SignatureParameter, out var signature, out error)
            || !TrySingle(list, AccessKeyIdParameter, out var keyId, out error))
        {
            return false;
        }

        // Another method or version would sign a different string; say so rather than report a bare mismatch.
        if (!TrySingle(list, "SignatureMethod", out var signatureMethod, out error)
            || !TrySingle(list, "SignatureVersion", out var signatureVersion, out error))
        {
            return false;
        }

        if (signatureMethod != "HMAC-SHA1" || signatureVersion != "1.0")
        {
            error = $"unsupported signature: SignatureMethod {signatureMethod}, SignatureVersion {signatureVersion} (expected HMAC-SHA1, 1.0)";
            return false;
        }

        var secret = secretOf(keyId);
        if (secret is null)
        {
            error = $"unknown AccessKeyId '{keyId}'";
            return false;
        }

        byte[] presented;
        try
        {
            presented = Convert.FromBase64String(signature);
        }
        catch (FormatException)
        {
            error = "malformed Signature: not Base64";
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(Hmac(method, list, secret), presented))
        {
            error = "signature mismatch";
            return false;
        }

        error = null;
        return true;
    }

    internal static string StringToSign(string method, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(parameters);
        var canonical = AcsEncoding.CanonicalQuery(parameters.Where(p => p.Key != SignatureParameter));
        return method.ToUpperInvariant() + "&" + AcsEncoding.PercentEncode("/") + "&" + AcsEncoding.PercentEncode(canonical);
    }

    private static byte[] Hmac(string method, IEnumerable<KeyValuePair<string, string>> parameters, string secret) =>
        HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret + "&"), Encoding.UTF8.GetBytes(StringToSign(method, parameters)));

    private static bool TrySingle(List<KeyValuePair<string, string>> parameters, string name, out string value, out string? error)
    {
        value = "";
        var found = parameters.Where(p => p.Key == name).ToList();
        switch (found.Count)
        {
            case 0:
                error = $"missing parameter {name}";
                return false;
            case > 1:
                error = $"malformed request: parameter {name} given {found.Count} times";
                return false;
            default:
                value = found[0].Value ?? "";
                error = null;
                return true;
        }
    }
}
