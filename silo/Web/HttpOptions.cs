using System.ComponentModel.DataAnnotations;
using System.Net;

namespace VNodeMesh.Silo.Web;

/// <summary>The silo's HTTP endpoint (section <c>VNodeMesh:Http</c>): health probes, metrics, the dashboard.</summary>
public sealed class HttpOptions : IValidatableObject
{
    public const string Section = "VNodeMesh:Http";

    /// <summary>The address to listen on: loopback by default; the pod's IP or 0.0.0.0 in a cluster.</summary>
    [Required]
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8080;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(Address, out _))
        {
            yield return new($"VNodeMesh:Http:Address '{Address}' is not an IP address", [nameof(Address)]);
        }
    }
}
