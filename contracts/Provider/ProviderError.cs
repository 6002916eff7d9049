namespace VNodeMesh.Contracts.Provider;

/// <summary>The kinds of provider failure VNodeMesh reacts to differently.</summary>
public enum ProviderErrorKind : byte
{
    /// <summary>The API budget is spent: retry after <see cref="ProviderError.RetryAfter"/>.</summary>
    Throttled,
    /// <summary>No stock for the zone or spec: try the next spec, then back off.</summary>
    NoStock,
    /// <summary>An account quota is exhausted.</summary>
    QuotaExceeded,
    /// <summary>The request can never succeed as it is: never retried.</summary>
    InvalidSpec,
    /// <summary>Anything that may work if tried again (5xx, timeouts, heavy load).</summary>
    Transient,
    /// <summary>The instance does not exist (any more).</summary>
    NotFound,
    /// <summary>The account cannot create anything (arrears, forbidden): never retried.</summary>
    Permanent,
}

/// <summary>A provider failure as data: what the state machine consumes.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.ProviderError")]
public sealed record ProviderError(
    [property: Id(0)] ProviderErrorKind Kind,
    [property: Id(1)] string Code,
    [property: Id(2)] string Message,
    [property: Id(3)] TimeSpan? RetryAfter = null,
    [property: Id(4)] string? Zone = null,
    [property: Id(5)] string? Spec = null,
    [property: Id(6)] string? RequestId = null)
{
    public bool IsRetryable => Kind is ProviderErrorKind.Throttled or ProviderErrorKind.NoStock
        or ProviderErrorKind.QuotaExceeded or ProviderErrorKind.Transient;
}

/// <summary>Thrown by providers; each subclass is one <see cref="ProviderErrorKind"/>.</summary>
public abstract class ProviderException(ProviderError error) : Exception($"{error.Code}: {error.Message}")
{
    public ProviderError Error { get; } = error;
}

public sealed class ThrottledException(string code, string message, TimeSpan retryAfter, string? requestId = null)
    : ProviderException(new(ProviderErrorKind.Throttled, code, message, retryAfter, RequestId: requestId));

public sealed class NoStockException(string code, string message, string? zone, string? spec, string? requestId = null)
    : ProviderException(new(ProviderErrorKind.NoStock, code, message, Zone: zone, Spec: spec, RequestId: requestId));

public sealed class QuotaExceededException(string code, string message, string? requestId = null)
    : ProviderException(new(ProviderErrorKind.QuotaExceeded, code, message, RequestId: requestId));

public sealed class InvalidSpecException(string code, string message, string? requestId = null)
    : ProviderException(new(ProviderErrorKind.InvalidSpec, code, message, RequestId: requestId));

public sealed class TransientProviderException(string code, string message, string? requestId = null, Exception? inner = null)
    : ProviderException(new(ProviderErrorKind.Transient, code, message, RequestId: requestId))
{
    public Exception? Cause { get; } = inner;
}

public sealed class InstanceNotFoundException(string code, string message, string? requestId = null)
    : ProviderException(new(ProviderErrorKind.NotFound, code, message, RequestId: requestId));

public sealed class PermanentProviderException(string code, string message, string? requestId = null)
    : ProviderException(new(ProviderErrorKind.Permanent, code, message, RequestId: requestId));

/// <summary>
/// The call was cancelled before its request left this process (it still waited for the budget): it had no
/// effect in the cloud.
/// </summary>
public sealed class RequestNotSentException(string operation, CancellationToken cancellationToken)
    : OperationCanceledException($"the {operation} was cancelled before it was sent", cancellationToken);
