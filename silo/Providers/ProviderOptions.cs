using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Providers;

/// <summary>Which cloud runs the instances (section <c>VNodeMesh:Provider</c>).</summary>
public sealed class ProviderOptions
{
    public const string Section = "VNodeMesh:Provider";

    /// <summary><c>simulator</c> (the embedded default) or <c>eci</c> (section <c>VNodeMesh:Eci</c>).</summary>
    [Required, RegularExpression("^(simulator|eci)$", ErrorMessage = "The Name field must be 'simulator' or 'eci'.")]
    public string Name { get; set; } = "simulator";
}
