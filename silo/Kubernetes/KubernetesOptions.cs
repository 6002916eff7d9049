using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// The Kubernetes bridge (section <c>VNodeMesh:Kubernetes</c>). It is on when a kubeconfig is given
/// (<c>--kubeconfig</c>) or the silo runs in a pod with a service account; off, the local profile runs alone.
/// </summary>
public sealed class KubernetesOptions
{
    public const string Section = "VNodeMesh:Kubernetes";

    /// <summary>Path of a kubeconfig file; empty means the in-cluster service account, if any.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>The provider's name in the node taint <c>virtual-kubelet.io/provider=&lt;name&gt;:NoSchedule</c>; by default the provider's own (<c>simulator</c>, <c>eci</c>).</summary>
    [RegularExpression("^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")]
    public string? ProviderName { get; set; }

    /// <summary>The node's capacity and allocatable cpu and memory; pods come from <c>VNodeMesh:VirtualNodes:Capacity</c>.</summary>
    [Required]
    public string Cpu { get; set; } = "2000";

    [Required]
    public string Memory { get; set; } = "8Ti";

    /// <summary>Shown as the node's kubelet endpoint (<c>status.daemonEndpoints.kubeletEndpoint.port</c>).</summary>
    [Range(1, 65535)]
    public int KubeletPort { get; set; } = 10250;

    /// <summary>The node's InternalIP; the pod IP in a cluster (downward API), loopback otherwise.</summary>
    public string? AdvertiseAddress { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", "00:01:00")]
    public TimeSpan LeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(10);

    [Range(10, 3600)]
    public int LeaseDurationSeconds { get; set; } = 40;

    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan NodeStatusInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Client-side budget of this silo's pod writes (status with annotations, deletions), per second.</summary>
    [Range(1, 100_000)]
    public double WriteQps { get; set; } = 200;

    [Range(1, 100_000)]
    public int WriteBurst { get; set; } = 400;

    /// <summary>Client-side budget of this silo's Event writes, apart from the status writes.</summary>
    [Range(1, 100_000)]
    public double EventQps { get; set; } = 50;

    [Range(1, 100_000)]
    public int EventBurst { get; set; } = 100;

    /// <summary>Pod writes in flight at once.</summary>
    [Range(1, 1024)]
    public int WriteConcurrency { get; set; } = 32;

    /// <summary>Repeats of one Event (same pod, same reason) within this window update one Event's count once.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan EventAggregationWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Server-side timeout of one watch request; it is resumed from its last resourceVersion.</summary>
    [Range(10, 3600)]
    public int WatchTimeoutSeconds { get; set; } = 300;
}
