namespace VNodeMesh.Grains.Lifecycle;

/// <summary>Exponential backoff with full jitter: a delay drawn uniformly from [0, min(cap, base * 2^(attempt-1))].</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.RetryPolicy")]
public sealed record RetryPolicy([property: Id(0)] TimeSpan BaseDelay, [property: Id(1)] TimeSpan MaxDelay)
{
    public static readonly RetryPolicy Default = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(60));

    /// <param name="attempt">1 for the first retry.</param>
    /// <param name="jitter">A uniform sample in [0, 1).</param>
    public TimeSpan Delay(int attempt, double jitter)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(ceiling * Math.Clamp(jitter, 0, 1));
    }

    /// <summary>A throttled call waits at least what the provider asked for, spread by jitter so retries do not arrive together.</summary>
    public TimeSpan Delay(int attempt, double jitter, TimeSpan? retryAfter) => retryAfter is { } after
        ? after + TimeSpan.FromMilliseconds(after.TotalMilliseconds * Math.Clamp(jitter, 0, 1))
        : Delay(attempt, jitter);
}
