using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Hosting;

/// <summary>The local profile (section <c>VNodeMesh:Local</c>): silos on localhost, state in process memory.</summary>
public sealed class LocalProfileOptions
{
    public const string Section = "VNodeMesh:Local";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The silo port of the first silo, which the others join.</summary>
    [Range(1, 65535)]
    public int PrimarySiloPort { get; set; } = 11111;
}

/// <summary>Which virtual nodes this silo cluster serves (section <c>VNodeMesh:Nodes</c>).</summary>
public sealed class NodesOptions
{
    public const string Section = "VNodeMesh:Nodes";

    [MinLength(1)]
    public string[] Names { get; set; } = ["vnodemesh-virtual-node"];

    /// <summary>How often each node is checked to be active; a node whose silo died comes back on the next check.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(2);
}
