using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Grains;

/// <summary>How pod grains retry and watch over pending work (section <c>VNodeMesh:Pods</c>).</summary>
public sealed class PodLifecycleOptions
{
    public const string Section = "VNodeMesh:Pods";

    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Period of the reminder that re-drives a pod with pending work after its silo is lost.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan WatchdogPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a create sent by an activation that was lost (its silo died or stopped) may still take to
    /// reach the cloud. A pod resumed elsewhere that finds no instance waits this long before creating again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan CreateLandingGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Transitions kept in a pod's lifecycle trace; the oldest are dropped first.</summary>
    [Range(4, 1000)]
    public int HistoryLimit { get; set; } = 24;

    /// <summary>Identifies this control plane's instances among others in the same cloud account.</summary>
    [Required, RegularExpression("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    public string Cluster { get; set; } = "vnodemesh";
}

/// <summary>Virtual node accounting and status polling (section <c>VNodeMesh:VirtualNodes</c>).</summary>
public sealed class VirtualNodeOptions
{
    public const string Section = "VNodeMesh:VirtualNodes";

    [Range(1, 1_000_000)]
    public int Capacity { get; set; } = 50_000;

    /// <summary>One "changed since" status poll per node per interval.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How far each poll looks back beyond the previous one, so a slow page or clock skew loses nothing.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan PollOverlap { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Every so often a poll looks back to the previous such poll instead of the last one, and sends
    /// again each status its pod is not known to have reached: a status or stage report lost on the
    /// way (a silo died, a message timed out) is made good within this interval.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How far the first poll after an activation looks back (the provider keeps terminal instances an hour).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan CatchUpWindow { get; set; } = TimeSpan.FromHours(1);
}
