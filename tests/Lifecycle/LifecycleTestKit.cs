using VNodeMesh.Grains.Lifecycle;

namespace VNodeMesh.Tests.Lifecycle;

/// <summary>Fixed clock values, builders and a small driver shared by the lifecycle tests.</summary>
internal static class LifecycleTestKit
{
    /// <summary>The fixed "now" of every test unless a test moves its clock.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public const double DefaultJitter = 0.5;

    public static LifecycleContext Context(DateTimeOffset now, double jitter = DefaultJitter, TimeSpan createLandingGrace = default) =>
        new(now, jitter, RetryPolicy.Default, createLandingGrace);

    public static PodTransitionResult Apply(PodLifecycle state, PodEvent e, DateTimeOffset now, double jitter = DefaultJitter) =>
        PodStateMachine.Apply(state, e, Context(now, jitter));

    public static ContainerGroup Instance(
        string id,
        ContainerGroupStatus status,
        DateTimeOffset? changedAt = null,
        string? reason = null,
        string? message = null) =>
        new(id, status, new Dictionary<string, string>(), [], T0.AddMinutes(-1), changedAt ?? T0, Reason: reason, Message: message);

    public static CreateSucceeded Created(string id) => new(new CreateContainerGroupResult(id, "req-" + id, "cn-hangzhou-k", null));

    public static InstanceObserved Observed(string id, ContainerGroupStatus status, DateTimeOffset? changedAt = null, string? reason = null, string? message = null) =>
        new(Instance(id, status, changedAt, reason, message));

    public static ProviderError Error(ProviderErrorKind kind, TimeSpan? retryAfter = null) => kind switch
    {
        ProviderErrorKind.Throttled => new(kind, "Throttling.User", "Request was denied due to user flow control.", retryAfter ?? TimeSpan.FromSeconds(5)),
        ProviderErrorKind.NoStock => new(kind, "RecommendEmpty.InstanceTypeNoStock", "The specified instance type is out of stock.", Zone: "cn-hangzhou-k"),
        ProviderErrorKind.QuotaExceeded => new(kind, "QuotaExceed.ECI", "The ECI quota is exhausted."),
        ProviderErrorKind.InvalidSpec => new(kind, "InvalidParameter.Spec", "The spec is invalid."),
        ProviderErrorKind.Transient => new(kind, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
        ProviderErrorKind.NotFound => new(kind, "InvalidContainerGroup.NotFound", "The container group does not exist."),
        ProviderErrorKind.Permanent => new(kind, "Account.Arrearage", "Your account has an outstanding payment."),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static InstanceSpec Spec(string text) =>
        InstanceSpec.TryParse(text, out var error) ?? throw new InvalidOperationException(error);

    public static PodSettings Settings(FailStrategy strategy = FailStrategy.FailBack, TimeSpan? maxPending = null, params string[] specs) =>
        new([.. specs.Select(Spec)], strategy, maxPending ?? PodSettings.DefaultMaxPending);

    /// <summary>A pod accepted ten minutes before <see cref="T0"/>, with one create attempt made.</summary>
    public static PodLifecycle Accepted(PodStage stage, PodSettings? settings = null) => PodLifecycle.Initial with
    {
        Stage = stage,
        Settings = settings ?? PodSettings.Default,
        AcceptedAt = T0.AddMinutes(-10),
        Attempts = 1,
    };

    public static string EffectNames(IEnumerable<PodEffect> effects) => string.Join(",", effects.Select(e => e.GetType().Name));
}

/// <summary>Walks one pod through the machine: keeps its state, a clock, and every effect emitted.</summary>
internal sealed class PodDriver(PodLifecycle? initial = null, double jitter = LifecycleTestKit.DefaultJitter)
{
    public PodLifecycle State { get; private set; } = initial ?? PodLifecycle.Initial;

    public DateTimeOffset Now { get; set; } = LifecycleTestKit.T0;

    public double Jitter { get; set; } = jitter;

    public TimeSpan CreateLandingGrace { get; set; }

    public List<PodEffect> AllEffects { get; } = [];

    public PodTransitionResult Send(PodEvent e)
    {
        var result = PodStateMachine.Apply(State, e, LifecycleTestKit.Context(Now, Jitter, CreateLandingGrace));
        State = result.State;
        AllEffects.AddRange(result.Effects);
        return result;
    }

    public PodDriver Advance(TimeSpan by)
    {
        Now += by;
        return this;
    }
}
