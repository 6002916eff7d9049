namespace VNodeMesh.Contracts.Lifecycle;

/// <summary>Pod annotations VNodeMesh reads (prefix <c>k8s.aliyun.com/</c>, as the product).</summary>
public static class PodAnnotations
{
    public const string Prefix = "k8s.aliyun.com/";
    public const string UseSpecs = Prefix + "eci-use-specs";
    public const string FailStrategy = Prefix + "eci-fail-strategy";
    public const string MaxPendingMinute = Prefix + "eci-max-pending-minute";
}

/// <summary><c>k8s.aliyun.com/eci-fail-strategy</c>.</summary>
public enum FailStrategy : byte
{
    /// <summary>Default: keep retrying; the pod stays Pending with a reason.</summary>
    FailBack,
    /// <summary>Accepted as the product spells it; VNodeMesh retries as fail-back (there is no other node to fail over to).</summary>
    FailOver,
    /// <summary>The first creation failure fails the pod with reason ProviderFailed.</summary>
    FailFast,
}
