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
