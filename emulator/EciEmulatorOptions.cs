using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Emulator;

/// <summary>
/// The emulated endpoint (section <c>Emulator</c>): one region, one account, and faults of the HTTP
/// layer itself. What happens to the instances is the simulator's (section <c>Simulator</c>).
/// </summary>
public sealed class EciEmulatorOptions
{
    public const string Section = "Emulator";

    /// <summary>0 picks a free port.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 18080;

    [Required]
    public string Region { get; set; } = "cn-hangzhou";

    [Required]
    public string AccessKeyId { get; set; } = "emulator-access-key";

    [Required]
    public string AccessKeySecret { get; set; } = "emulator-access-secret";

    /// <summary>Share of requests answered 503 ServiceUnavailable before anything is done.</summary>
    [Range(0.0, 1.0)]
    public double UnavailableRate { get; set; }

    /// <summary>Share of successful creates whose answer is lost: the instance exists, the client gets a 503.</summary>
    [Range(0.0, 1.0)]
    public double LostAnswerRate { get; set; }

    /// <summary>How far x-acs-date may be from the emulator's clock.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(15);

    public int Seed { get; set; } = 1;
}
