using System.Text;
using VNodeMesh.Silo.Providers.Eci;

namespace VNodeMesh.Tests.Eci;

public sealed class AcsSignatureTests
{
    // ---- the published V3 vector (RunInstances, ecs.cn-shanghai) ----

    private const string VectorKeyId = "YourAccessKeyId";
    private const string VectorSecret = "YourAccessKeySecret";
    private const string VectorSignedHeaders = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";
    private const string VectorSignature = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0";
    private const string EmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static KeyValuePair<string, string>[] VectorQuery() =>
    [
        new("RegionId", "cn-shanghai"),
        new("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
    ];

    private static Dictionary<string, string> VectorHeaders() => new()
    {
        ["host"] = "ecs.cn-shanghai.aliyuncs.com",
        ["x-acs-action"] = "RunInstances",
        ["x-acs-version"] = "2014-05-26",
        ["x-acs-date"] = "2023-10-26T10:22:32Z",
        ["x-acs-signature-nonce"] = "3156853299f313e23d1673dc12e1703d",
    };

    [Fact]
    public void V3_canonical_request_of_the_published_vector_hashes_to_the_published_value()
    {
        var headers = VectorHeaders();
        headers["x-acs-content-sha256"] = EmptyHash;

        var canonical = AcsV3Signature.CanonicalRequest("POST", "/", VectorQuery(), headers, EmptyHash, out var signedHeaders);

        Assert.Equal(VectorSignedHeaders, signedHeaders);
        Assert.Equal(
            "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n"
            + "host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\nx-acs-content-sha256:" + EmptyHash + "\n"
            + "x-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\nx-acs-version:2014-05-26\n\n"
            + VectorSignedHeaders + "\n" + EmptyHash,
            canonical);
        Assert.Equal("7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259", AcsV3Signature.HashHex(Encoding.UTF8.GetBytes(canonical)));
    }

    [Fact]
    public void V3_sign_of_the_published_vector_gives_the_published_authorization()
    {
        var headers = VectorHeaders();

        var authorization = AcsV3Signature.Sign("POST", "/", VectorQuery(), headers, [], new AcsCredentials(VectorKeyId, VectorSecret));

        Assert.Equal($"ACS3-HMAC-SHA256 Credential={VectorKeyId},SignedHeaders={VectorSignedHeaders},Signature={VectorSignature}", authorization);
        Assert.Equal(EmptyHash, headers["x-acs-content-sha256"]);
        Assert.False(headers.ContainsKey("x-acs-security-token"));
    }

    [Fact]
    public void V3_header_names_in_any_case_and_padded_values_sign_the_same()
    {
        // A case-sensitive dictionary on purpose: the signer has to normalise names itself.
        var headers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Host"] = "ecs.cn-shanghai.aliyuncs.com",
            ["X-Acs-Action"] = " RunInstances ",
            ["X-ACS-VERSION"] = "2014-05-26",
            ["x-acs-Date"] = "2023-10-26T10:22:32Z",
            ["x-acs-signature-nonce"] = "3156853299f313e23d1673dc12e1703d",
            ["X-Acs-Content-Sha256"] = "stale",
        };

        var authorization = AcsV3Signature.Sign("post", "/", VectorQuery(), headers, [], new AcsCredentials(VectorKeyId, VectorSecret));

        Assert.EndsWith($"SignedHeaders={VectorSignedHeaders},Signature={VectorSignature}", authorization);
        Assert.Equal(EmptyHash, headers["x-acs-content-sha256"]);
        Assert.False(headers.ContainsKey("X-Acs-Content-Sha256"));
    }

    [Fact]
    public void V3_sign_refuses_a_request_without_a_required_header()
    {
        var headers = VectorHeaders();
        headers.Remove("x-acs-signature-nonce");

        var ex = Assert.Throws<ArgumentException>(() =>
            AcsV3Signature.Sign("POST", "/", VectorQuery(), headers, [], new AcsCredentials(VectorKeyId, VectorSecret)));
        Assert.Contains("x-acs-signature-nonce", ex.Message);
    }

    [Fact]
    public void V3_hash_hex_is_lowercase_sha256()
    {
        Assert.Equal(EmptyHash, AcsV3Signature.HashHex([]));
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", AcsV3Signature.HashHex("abc"u8));
    }

    // ---- encoding ----

    [Theory]
    [InlineData("AZaz09-_.~", "AZaz09-_.~")]
    [InlineData(" ", "%20")]
    [InlineData("*", "%2A")]
    [InlineData("/", "%2F")]
    [InlineData("+", "%2B")]
    [InlineData("=", "%3D")]
    [InlineData("&", "%26")]
    [InlineData(":", "%3A")]
    [InlineData("é", "%C3%A9")]
    [InlineData("容器", "%E5%AE%B9%E5%99%A8")]
    [InlineData("", "")]
    public void Percent_encoding_keeps_only_unreserved_characters(string value, string expected) =>
        Assert.Equal(expected, AcsEncoding.PercentEncode(value));

    [Fact]
    public void Canonical_query_sorts_by_encoded_key_then_value_and_keeps_empty_values()
    {
        KeyValuePair<string, string>[] query =
        [
            new("b", "2"),
            new("a", "z"),
            new("a", "y"),
            new("B", "x y"),
            new("empty", ""),
            new("a b", "*"),
        ];

        // Ordinal over the encoded keys: uppercase before lowercase, a key before the longer keys it prefixes, equal keys by value.
        Assert.Equal("B=x%20y&a=y&a=z&a%20b=%2A&b=2&empty=", AcsEncoding.CanonicalQuery(query));
        Assert.Equal("", AcsEncoding.CanonicalQuery([]));
    }

    // ---- V3 round trips and rejections ----

    private static readonly Dictionary<string, string> Secrets = new()
    {
        [VectorKeyId] = VectorSecret,
        ["STS.key"] = "sts-secret",
    };

    private static string? SecretOf(string keyId) => Secrets.GetValueOrDefault(keyId);

    private sealed record SignedRequest(KeyValuePair<string, string>[] Query, Dictionary<string, string> Headers, byte[] Body);

    private static SignedRequest SignedCreate(AcsCredentials? credentials = null)
    {
        KeyValuePair<string, string>[] query = [new("RegionId", "cn-hangzhou"), new("ContainerGroupName", "pod a*b")];
        var body = Encoding.UTF8.GetBytes("{\"Container\":[{\"Image\":\"nginx\"}]}");
        var headers = VectorHeaders();
        headers["x-acs-action"] = "CreateContainerGroup";
        headers["x-acs-version"] = "2018-08-08";
        headers["Content-Type"] = "application/json";
        headers["Authorization"] = AcsV3Signature.Sign("POST", "/", query, headers, body, credentials ?? new AcsCredentials(VectorKeyId, VectorSecret));
        return new SignedRequest(query, headers, body);
    }

    private static bool Verify(SignedRequest request, out string? error, Func<string, string?>? secretOf = null) =>
        AcsV3Signature.Verify("POST", "/", request.Query, request.Headers, request.Body, secretOf ?? SecretOf, out error);

    [Fact]
    public void V3_verify_accepts_what_sign_produced_with_a_body_and_content_type()
    {
        var request = SignedCreate();

        Assert.Contains("SignedHeaders=content-type;host;", request.Headers["Authorization"]);
        Assert.True(Verify(request, out var error), error);
        Assert.Null(error);
    }

    [Fact]
    public void V3_verify_accepts_sts_credentials_with_the_token_signed()
    {
        var request = SignedCreate(new AcsCredentials("STS.key", "sts-secret", "the-token"));

        Assert.Equal("the-token", request.Headers["x-acs-security-token"]);
        Assert.Contains(";x-acs-security-token;", request.Headers["Authorization"]);
        Assert.True(Verify(request, out var error), error);
    }

    [Fact]
    public void V3_verify_rejects_a_swapped_security_token()
    {
        var request = SignedCreate(new AcsCredentials("STS.key", "sts-secret", "the-token"));
        request.Headers["x-acs-security-token"] = "another-token";

        Assert.False(Verify(request, out var error));
        Assert.Equal("signature mismatch", error);
    }

    [Fact]
    public void V3_verify_rejects_a_tampered_query_value()
    {
        var request = SignedCreate();
        request.Query[0] = new("RegionId", "cn-beijing");

        Assert.False(Verify(request, out var error));
        Assert.Equal("signature mismatch", error);
    }

    [Fact]
    public void V3_verify_rejects_a_tampered_body()
    {
        var request = SignedCreate();
        request.Body[^3] = (byte)'X';

        Assert.False(Verify(request, out var error));
        Assert.Contains("payload hash mismatch", error);
    }

    [Fact]
    public void V3_verify_rejects_a_wrong_secret()
    {
        var request = SignedCreate();

        Assert.False(Verify(request, out var error, _ => "not-the-secret"));
        Assert.Equal("signature mismatch", error);
    }

    [Fact]
    public void V3_verify_rejects_an_unknown_key_id()
    {
        var request = SignedCreate(new AcsCredentials("NoSuchKey", VectorSecret));

        Assert.False(Verify(request, out var error));
        Assert.Contains("unknown AccessKeyId", error);
        Assert.Contains("NoSuchKey", error);
    }

    [Fact]
    public void V3_verify_rejects_a_missing_authorization()
    {
        var request = SignedCreate();
        request.Headers.Remove("Authorization");

        Assert.False(Verify(request, out var error));
        Assert.Contains("missing Authorization", error);
    }

    [Fact]
    public void V3_verify_rejects_a_missing_signed_header()
    {
        var request = SignedCreate();
        request.Headers.Remove("x-acs-date");

        Assert.False(Verify(request, out var error));
        Assert.Contains("missing header x-acs-date", error);
    }

    [Fact]
    public void V3_verify_rejects_an_unsigned_acs_header()
    {
        var request = SignedCreate();
        request.Headers["x-acs-extra"] = "added after signing";

        Assert.False(Verify(request, out var error));
        Assert.Contains("x-acs-extra", error);
        Assert.Contains("not in SignedHeaders", error);
    }

    [Theory]
    [InlineData("AWS4-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host,Signature=00")]
    [InlineData("ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host")]
    [InlineData("ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=x-acs-date;host,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")]
    [InlineData("ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host,Signature=zz563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")]
    [InlineData("ACS3-HMAC-SHA256 garbage")]
    public void V3_verify_rejects_a_malformed_authorization(string authorization)
    {
        var request = SignedCreate();
        request.Headers["Authorization"] = authorization;

        Assert.False(Verify(request, out var error));
        Assert.StartsWith("malformed Authorization", error);
    }

    // ---- the published RPC vector (DescribeRegions) ----

    private static List<KeyValuePair<string, string>> RpcParameters() =>
    [
        new("Action", "DescribeRegions"),
        new("Format", "XML"),
        new("AccessKeyId", "testid"),
        new("SignatureMethod", "HMAC-SHA1"),
        new("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        new("SignatureVersion", "1.0"),
        new("Timestamp", "2016-02-23T12:46:24Z"),
        new("Version", "2014-05-26"),
    ];

    [Theory]
    [InlineData("GET", "OLeaidS1JvxuMvnyHOwuJ+uX5qY=")]
    [InlineData("POST", "MxbnVAM4w6sft9xjVpe/GCKueuk=")]
    public void Rpc_sign_of_the_published_vector_gives_the_published_signature(string method, string expected) =>
        Assert.Equal(expected, AcsRpcSignature.Sign(method, RpcParameters(), "testsecret"));

    [Fact]
    public void Rpc_sign_ignores_a_signature_already_among_the_parameters()
    {
        var parameters = RpcParameters();
        parameters.Add(new("Signature", "whatever"));

        Assert.Equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", AcsRpcSignature.Sign("GET", parameters, "testsecret"));
    }

    private static string? RpcSecretOf(string keyId) => keyId == "testid" ? "testsecret" : null;

    private static List<KeyValuePair<string, string>> SignedRpc()
    {
        var parameters = RpcParameters();
        parameters.Add(new("RegionId", "cn-hangzhou"));
        parameters.Add(new("Signature", AcsRpcSignature.Sign("GET", parameters, "testsecret")));
        return parameters;
    }

    [Fact]
    public void Rpc_verify_accepts_what_sign_produced()
    {
        Assert.True(AcsRpcSignature.Verify("GET", SignedRpc(), RpcSecretOf, out var error), error);
        Assert.Null(error);
    }

    [Fact]
    public void Rpc_verify_rejects_a_tampered_parameter()
    {
        var parameters = SignedRpc();
        parameters[parameters.FindIndex(p => p.Key == "RegionId")] = new("RegionId", "cn-beijing");

        Assert.False(AcsRpcSignature.Verify("GET", parameters, RpcSecretOf, out var error));
        Assert.Equal("signature mismatch", error);
    }

    [Fact]
    public void Rpc_verify_rejects_another_method()
    {
        Assert.False(AcsRpcSignature.Verify("POST", SignedRpc(), RpcSecretOf, out var error));
        Assert.Equal("signature mismatch", error);
    }

    [Fact]
    public void Rpc_verify_rejects_a_wrong_secret_and_an_unknown_key()
    {
        Assert.False(AcsRpcSignature.Verify("GET", SignedRpc(), _ => "other", out var error));
        Assert.Equal("signature mismatch", error);

        Assert.False(AcsRpcSignature.Verify("GET", SignedRpc(), _ => null, out error));
        Assert.Contains("unknown AccessKeyId 'testid'", error);
    }

    [Fact]
    public void Rpc_verify_rejects_a_missing_signature()
    {
        var parameters = SignedRpc();
        parameters.RemoveAll(p => p.Key == "Signature");

        Assert.False(AcsRpcSignature.Verify("GET", parameters, RpcSecretOf, out var error));
        Assert.Equal("missing parameter Signature", error);
    }

    // ---- credentials ----

    [Fact]
    public void Credentials_never_print_the_secret_or_the_token()
    {
        var credentials = new AcsCredentials("LTAIkey", "s3cr3t-value", "sts-t0ken-value");

        var text = credentials.ToString();

        Assert.Contains("LTAIkey", text);
        Assert.DoesNotContain("s3cr3t-value", text);
        Assert.DoesNotContain("sts-t0ken-value", text);
        Assert.DoesNotContain("s3cr3t-value", $"{credentials}");
    }
}
