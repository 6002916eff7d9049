using System.Net;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>Maps an OpenAPI error (<c>{RequestId, HostId, Code, Message}</c>, the HTTP status, <c>x-acs-retry-after</c>) to the provider contract's typed errors.</summary>
public static class EciErrors
{
    /// <summary>When the answer names no delay: one refill of the default budget.</summary>
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(1);

    public static ProviderException ToException(HttpStatusCode status, string? code, string? message, string? requestId, TimeSpan? retryAfter)
    {
        code = string.IsNullOrWhiteSpace(code) ? $"Http{(int)status}" : code;
        message = string.IsNullOrWhiteSpace(message) ? $"HTTP {(int)status} {status}" : message;
        var with = requestId is null ? message : $"{message} (request {requestId})";

        if (IsThrottling(code) || status == HttpStatusCode.TooManyRequests)
        {
            return new ThrottledException(code, with, retryAfter ?? DefaultRetryAfter, requestId);
        }

        if (code.Contains("NoStock", StringComparison.OrdinalIgnoreCase) || code.StartsWith("RecommendEmpty", StringComparison.Ordinal)
            || code is "OperationDenied.ZoneNotAllowed" or "InvalidZone.NotOnSale" or "Zone.NotOnSale")
        {
            return new NoStockException(code, with, zone: null, spec: null, requestId);
        }

        if (code.StartsWith("ValueExceeded", StringComparison.Ordinal) || code.StartsWith("ExceededQuota", StringComparison.Ordinal)
            || code.StartsWith("QuotaExceed", StringComparison.Ordinal))
        {
            return new QuotaExceededException(code, with, requestId);
        }

        if (code.StartsWith("Account.Arrearage", StringComparison.Ordinal) || code.StartsWith("Forbidden", StringComparison.Ordinal)
            || code.StartsWith("InvalidAccessKeyId", StringComparison.Ordinal) || code.StartsWith("SignatureDoesNotMatch", StringComparison.Ordinal)
            || code.StartsWith("IncompleteSignature", StringComparison.Ordinal) || status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return new PermanentProviderException(code, $"the account cannot make this call: {with}", requestId);
        }

        if (code.Contains("NotFound", StringComparison.OrdinalIgnoreCase) || status == HttpStatusCode.NotFound)
        {
            return new InstanceNotFoundException(code, with, requestId);
        }

        if (code.StartsWith("InvalidParameter", StringComparison.Ordinal) || code.StartsWith("MissingParameter", StringComparison.Ordinal)
            || code.StartsWith("FeatureBasedConstraintConflict", StringComparison.Ordinal) || code.StartsWith("InvalidImage", StringComparison.Ordinal)
            || code.StartsWith("InvalidArgument", StringComparison.Ordinal))
        {
            return new InvalidSpecException(code, with, requestId);
        }

        // 5xx, ServiceUnavailable, InternalError, and any code not known to be final.
        return new TransientProviderException(code, with, requestId);
    }

    public static bool IsThrottling(string code) =>
        code.StartsWith("Throttling", StringComparison.Ordinal) || code.StartsWith("Degrade.Api", StringComparison.Ordinal)
        || code is "ServiceUnavailable.Throttling" or "Request.Throttling";

    /// <summary><c>x-acs-retry-after</c> is in milliseconds; zero or a negative value means none.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.TryGetValues(EciHeaders.RetryAfter, out var values)
        && long.TryParse(values.FirstOrDefault()?.Trim(), out var ms) && ms > 0
            ? TimeSpan.FromMilliseconds(ms)
            : null;
}

/// <summary>Header names of the OpenAPI wire format.</summary>
public static class EciHeaders
{
    public const string Action = "x-acs-action";
    public const string Version = "x-acs-version";
    public const string Date = "x-acs-date";
    public const string Nonce = "x-acs-signature-nonce";
    public const string ContentSha256 = "x-acs-content-sha256";
    public const string SecurityToken = "x-acs-security-token";
    public const string RetryAfter = "x-acs-retry-after";
    public const string RequestId = "x-acs-request-id";
}
