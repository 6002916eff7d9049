using System.ComponentModel.DataAnnotations;
using System.Net;
using StackExchange.Redis;

namespace VNodeMesh.Silo.Hosting;

/// <summary>
/// The cluster profile (section <c>VNodeMesh:Cluster</c>): several silo processes sharing Orleans
/// membership, grain state, reminders and the provider budget in Redis.
/// </summary>
public sealed class ClusterProfileOptions : IValidatableObject
{
    public const string Section = "VNodeMesh:Cluster";

    /// <summary>A StackExchange.Redis configuration string: <c>host:6379,password=...</c>.</summary>
    [Required(ErrorMessage = "VNodeMesh:Cluster:Redis is required on the cluster profile (a Redis configuration string such as 'redis:6379')")]
    public string Redis { get; set; } = "";

    /// <summary>Silos with the same cluster id form one cluster.</summary>
    [Required, RegularExpression("^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$")]
    public string ClusterId { get; set; } = "vnodemesh";

    /// <summary>Grain state and reminders belong to the service id, and survive a change of cluster id.</summary>
    [Required, RegularExpression("^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$")]
    public string ServiceId { get; set; } = "vnodemesh";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos reach this one at (the pod IP in Kubernetes); it is also the one listened on.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>How long a stopping silo may take to hand its virtual nodes and pods over.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A silo that misses <see cref="MissedProbesLimit"/> probes of this length is declared dead.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:01:00")]
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    [Range(1, 10)]
    public int MissedProbesLimit { get; set; } = 3;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(AdvertisedAddress, out _))
        {
            yield return new($"{Section}:AdvertisedAddress '{AdvertisedAddress}' is not an IP address", [nameof(AdvertisedAddress)]);
        }

        if (SiloPort == GatewayPort)
        {
            yield return new($"{Section}:SiloPort and GatewayPort are both {SiloPort}", [nameof(SiloPort), nameof(GatewayPort)]);
        }

        string? redisError = null;
        try
        {
            if (!string.IsNullOrWhiteSpace(Redis) && ConfigurationOptions.Parse(Redis).EndPoints.Count == 0)
            {
                redisError = $"{Section}:Redis '{Redis}' names no endpoint (host:port)";
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or RedisException)
        {
            redisError = $"{Section}:Redis is not a valid Redis configuration string: {ex.Message}";
        }

        if (redisError is not null)
        {
            yield return new(redisError, [nameof(Redis)]);
        }
    }
}
