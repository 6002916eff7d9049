using System.ComponentModel.DataAnnotations;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>
/// The Elastic Container Instance OpenAPI (section <c>VNodeMesh:Eci</c>), used when
/// <c>VNodeMesh:Provider:Name</c> is <c>eci</c>. Credentials come from configuration or the
/// environment (in a cluster: the <c>alibaba-addon-secret</c> Secret), never from logs.
/// </summary>
public sealed class EciOptions : IValidatableObject
{
    public const string Section = "VNodeMesh:Eci";

    /// <summary>The API version every request names.</summary>
    public const string ApiVersion = "2018-08-08";

    [Required, RegularExpression("^[a-z]{2}(-[a-z0-9]+)+$", ErrorMessage = "The Region field must be a region id such as cn-hangzhou.")]
    public string Region { get; set; } = "";

    /// <summary>Calls <c>eci-vpc.{region}.aliyuncs.com</c>, reachable only from inside the region's VPCs.</summary>
    public bool UseVpcEndpoint { get; set; }

    /// <summary>Overrides the endpoint derived from the region (an emulator: <c>http://127.0.0.1:port</c>).</summary>
    public Uri? Endpoint { get; set; }

    [Required]
    public string AccessKeyId { get; set; } = "";

    [Required]
    public string AccessKeySecret { get; set; } = "";

    /// <summary>Set for STS credentials (a RAM role).</summary>
    public string? SecurityToken { get; set; }

    /// <summary>The default vSwitches and security group; a virtual node's own win.</summary>
    public List<string> VSwitches { get; set; } = [];

    public string? SecurityGroup { get; set; }

    /// <summary>One HTTP attempt's limit.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The limit of a call with all its retries.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries of a call that failed in a retryable way (5xx, timeouts, throttling).</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 3;

    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The share of failed calls, over <see cref="BreakSamplingDuration"/>, that opens the circuit.</summary>
    [Range(0.01, 1.0)]
    public double BreakFailureRatio { get; set; } = 0.5;

    [Range(2, 100_000)]
    public int BreakMinimumCalls { get; set; } = 20;

    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(10);

    public Uri EffectiveEndpoint => Endpoint ?? new($"https://{(UseVpcEndpoint ? "eci-vpc" : "eci")}.{Region}.aliyuncs.com/");

    public AcsCredentials Credentials => new(AccessKeyId, AccessKeySecret, string.IsNullOrEmpty(SecurityToken) ? null : SecurityToken);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Endpoint is { IsAbsoluteUri: false } or { Scheme: not ("http" or "https") })
        {
            yield return new($"The Endpoint field must be an absolute http(s) URI, got '{Endpoint}'.", [nameof(Endpoint)]);
        }

        if (CallTimeout < AttemptTimeout)
        {
            yield return new($"CallTimeout ({CallTimeout}) must be at least AttemptTimeout ({AttemptTimeout}).", [nameof(CallTimeout)]);
        }
    }
}
