using VNodeMesh.Contracts.Provider;

namespace VNodeMesh.Contracts.Lifecycle;

/// <summary>What a pod's annotations ask of its instance, parsed and validated once at admission.</summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.PodSettings")]
public sealed record PodSettings(
    [property: Id(0)] IReadOnlyList<InstanceSpec> Specs,
    [property: Id(1)] FailStrategy FailStrategy,
    [property: Id(2)] TimeSpan MaxPending)
{
    public static readonly TimeSpan DefaultMaxPending = TimeSpan.FromMinutes(240);
    public static readonly PodSettings Default = new([], FailStrategy.FailBack, DefaultMaxPending);

    /// <summary>The spec of attempt <paramref name="index"/>, or null when the pod names none (sized from its requests).</summary>
    public InstanceSpec? SpecAt(int index) => Specs.Count == 0 ? null : Specs[index % Specs.Count];
}
