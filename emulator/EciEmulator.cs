using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using VNodeMesh.Silo.Providers.Eci;
using VNodeMesh.Silo.Providers.Simulator;

namespace VNodeMesh.Emulator;

/// <summary>
/// An HTTP endpoint that speaks the ECI OpenAPI wire format on 127.0.0.1: it verifies every request's
/// signature (ACS3-HMAC-SHA256, or the RPC HMAC-SHA1 scheme), refuses replayed nonces and stale
/// dates, and serves the actions VNodeMesh uses from a <see cref="SimulatedCloud"/>, so that its quota,
/// latencies and faults are the simulator's. It can also lose answers, as a real network does.
/// </summary>
public sealed class EciEmulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly EciEmulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, long> _nonces = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<KeyValuePair<string, string>>> _creates = new(StringComparer.Ordinal);
    private long _requests, _rejected, _unavailable, _lostAnswers;
    private int _throttleNext;
    private TimeSpan _throttleRetryAfter;

    private EciEmulator(WebApplication app, EciEmulatorOptions options, SimulatedCloud cloud, TimeProvider time)
    {
        _app = app;
        _options = options;
        Cloud = cloud;
        _time = time;
    }

    public SimulatedCloud Cloud { get; }

    public Uri Endpoint { get; private set; } = null!;

    public string Region => _options.Region;

    public AcsCredentials Credentials => new(_options.AccessKeyId, _options.AccessKeySecret);

    /// <summary>What an ECI client needs to call this endpoint, with a vSwitch and security group the emulator accepts.</summary>
    public EciOptions ClientOptions() => new()
    {
        Region = Region,
        Endpoint = Endpoint,
        AccessKeyId = _options.AccessKeyId,
        AccessKeySecret = _options.AccessKeySecret,
        VSwitches = ["vsw-emulator"],
        SecurityGroup = "sg-emulator",
    };

    /// <summary>Requests by action that passed authentication.</summary>
    public IReadOnlyDictionary<string, long> Calls => new Dictionary<string, long>(_calls);

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>The parameters of the last CreateContainerGroup for this container group name: what the client really sent.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? ParametersOf(string containerGroupName) => _creates.GetValueOrDefault(containerGroupName);

    /// <summary>Requests refused for their signature, credentials, nonce or date.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    public long UnavailableAnswers => Interlocked.Read(ref _unavailable);

    public long LostAnswers => Interlocked.Read(ref _lostAnswers);

    /// <summary>Answers the next <paramref name="requests"/> calls with Throttling.Api and this <c>x-acs-retry-after</c>, whatever the budget.</summary>
    public void ThrottleNext(int requests, TimeSpan retryAfter)
    {
        _throttleRetryAfter = retryAfter;
        Volatile.Write(ref _throttleNext, requests);
    }

    public static async Task<EciEmulator> StartAsync(EciEmulatorOptions options, SimulatedCloud cloud, TimeProvider? time = null, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, options.Port));
        var app = builder.Build();
        var emulator = new EciEmulator(app, options, cloud, time ?? TimeProvider.System);
        app.Map("/", emulator.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        emulator.Endpoint = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return emulator;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext http)
    {
        Interlocked.Increment(ref _requests);
        var requestId = Guid.NewGuid().ToString("D").ToUpperInvariant();
        http.Response.Headers[EciHeaders.RequestId] = requestId;
        var body = await ReadBodyAsync(http.Request);
        var parameters = Parameters(http.Request, body);

        if (!Authenticate(http.Request, body, parameters, out var status, out var code, out var message))
        {
            Interlocked.Increment(ref _rejected);
            await Error(http, requestId, status, code, message);
            return;
        }

        var action = http.Request.Headers[EciHeaders.Action].FirstOrDefault() ?? Value(parameters, "Action") ?? "";
        _calls.AddOrUpdate(action, 1, static (_, n) => n + 1);
        if (TakeThrottle())
        {
            http.Response.Headers[EciHeaders.RetryAfter] = ((long)_throttleRetryAfter.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            await Error(http, requestId, HttpStatusCode.BadRequest, "Throttling.Api", "Request was denied due to API flow control.");
            return;
        }

        if (Chance(requestId, 1) < _options.UnavailableRate)
        {
            Interlocked.Increment(ref _unavailable);
            await Error(http, requestId, HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.");
            return;
        }

        if (Value(parameters, "RegionId") is var region && region != _options.Region)
        {
            await Error(http, requestId, HttpStatusCode.BadRequest, region is null ? "MissingParameter.RegionId" : "InvalidRegionId",
                region is null ? "RegionId is mandatory for this action." : $"The region '{region}' is not served by this endpoint ({_options.Region}).");
            return;
        }

        try
        {
            var answer = action switch
            {
                "CreateContainerGroup" => await CreateAsync(parameters),
                "DescribeContainerGroupStatus" => await DescribeStatusAsync(parameters),
                "DescribeContainerGroups" => await DescribeGroupsAsync(parameters),
                "DeleteContainerGroup" => await DeleteAsync(parameters),
                "DescribeContainerGroupEvents" => await DescribeEventsAsync(parameters),
                "DescribeContainerLog" => await DescribeLogAsync(parameters),
                _ => throw new InvalidSpecException("InvalidAction.NotSupported", $"The action '{action}' is not supported by this endpoint."),
            };

            if (action == "CreateContainerGroup" && Chance(requestId, 2) < _options.LostAnswerRate)
            {
                Interlocked.Increment(ref _lostAnswers);
                await Error(http, requestId, HttpStatusCode.ServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.");
                return;
            }

            answer["RequestId"] = requestId;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(answer.ToJsonString());
        }
        catch (ProviderException ex)
        {
            var (errorStatus, retryAfter) = ex.Error.Kind switch
            {
                ProviderErrorKind.Throttled => (HttpStatusCode.BadRequest, ex.Error.RetryAfter),
                ProviderErrorKind.NotFound => (HttpStatusCode.NotFound, null),
                ProviderErrorKind.Transient => (HttpStatusCode.ServiceUnavailable, null),
                ProviderErrorKind.Permanent => (HttpStatusCode.Forbidden, null),
                _ => (HttpStatusCode.BadRequest, (TimeSpan?)null),
            };
            if (retryAfter is { } delay)
            {
                http.Response.Headers[EciHeaders.RetryAfter] = ((long)Math.Ceiling(delay.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
            }

            await Error(http, requestId, errorStatus, ex.Error.Code, ex.Error.Message);
        }
    }

    private bool Authenticate(HttpRequest request, byte[] body, List<KeyValuePair<string, string>> parameters, out HttpStatusCode status, out string code, out string message)
    {
        status = HttpStatusCode.BadRequest;
        code = "";
        string? error;
        string? nonce, date;
        if (request.Headers.Authorization.Count > 0)
        {
            var headers = request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
            var query = request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? "")));
            if (!AcsV3Signature.Verify(request.Method, request.Path.HasValue ? request.Path.Value! : "/", query, headers, body, SecretOf, out error))
            {
                return Refuse(error, out status, out code, out message);
            }

            nonce = headers.GetValueOrDefault(EciHeaders.Nonce);
            date = headers.GetValueOrDefault(EciHeaders.Date);
        }
        else if (Value(parameters, "Signature") is not null)
        {
            if (!AcsRpcSignature.Verify(request.Method, parameters, SecretOf, out error))
            {
                return Refuse(error, out status, out code, out message);
            }

            nonce = Value(parameters, "SignatureNonce");
            date = Value(parameters, "Timestamp");
        }
        else
        {
            (status, code, message) = (HttpStatusCode.BadRequest, "MissingParameter.Signature", "The request is not signed: neither an Authorization header nor a Signature parameter.");
            return false;
        }

        if (!DateTimeOffset.TryParse(date, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            || (at - _time.GetUtcNow()).Duration() > _options.ClockSkew)
        {
            (code, message) = ("InvalidTimeStamp.Expired", $"The request date '{date}' is missing or more than {_options.ClockSkew} away from the server's clock.");
            return false;
        }

        if (string.IsNullOrEmpty(nonce) || !_nonces.TryAdd(nonce, at.UtcTicks))
        {
            (code, message) = ("SignatureNonceUsed", $"The signature nonce '{nonce}' was already used.");
            return false;
        }

        PruneNonces(at);
        message = "";
        return true;

        static bool Refuse(string? error, out HttpStatusCode status, out string code, out string message)
        {
            message = error ?? "The signature is invalid.";
            var unknownKey = message.Contains("unknown", StringComparison.OrdinalIgnoreCase) && message.Contains("key", StringComparison.OrdinalIgnoreCase);
            (status, code) = unknownKey
                ? (HttpStatusCode.NotFound, "InvalidAccessKeyId.NotFound")
                : (HttpStatusCode.BadRequest, "SignatureDoesNotMatch");
            return false;
        }
    }

    /// <summary>A nonce only needs remembering while its date is acceptable.</summary>
    private void PruneNonces(DateTimeOffset now)
    {
        if (_nonces.Count < 100_000)
        {
            return;
        }

        var oldest = (now - 2 * _options.ClockSkew).UtcTicks;
        foreach (var (nonce, ticks) in _nonces)
        {
            if (ticks < oldest)
            {
                _nonces.TryRemove(nonce, out _);
            }
        }
    }

    private string? SecretOf(string keyId) => keyId == _options.AccessKeyId ? _options.AccessKeySecret : null;

    private async Task<JsonObject> CreateAsync(List<KeyValuePair<string, string>> parameters)
    {
        var request = ContainerGroupRequest(parameters);
        _creates[request.ContainerGroupName] = parameters;
        var result = await Cloud.CreateContainerGroupAsync(request);
        return new JsonObject { ["ContainerGroupId"] = result.ContainerGroupId };
    }

    private async Task<JsonObject> DescribeStatusAsync(List<KeyValuePair<string, string>> parameters)
    {
        if (Value(parameters, "ContainerGroupIds") is { } ids)
        {
            var groups = await Cloud.DescribeContainerGroupStatusAsync(Ids(ids));
            return new JsonObject { ["Data"] = new JsonArray([.. groups.Select(g => (JsonNode)EciWire.StatusItem(g))]) };
        }

        var since = Int(parameters, "SinceSecond") ?? throw new InvalidSpecException("MissingParameter.SinceSecond", "Either ContainerGroupIds or SinceSecond is mandatory.");
        var page = await Cloud.DescribeChangedContainerGroupStatusAsync(new ChangedSinceQuery(
            since, Int(parameters, "Limit") ?? ChangedSinceQuery.MaxLimit, Value(parameters, "NextToken"), Tags(parameters)));
        return new JsonObject
        {
            ["Data"] = new JsonArray([.. page.Items.Select(g => (JsonNode)EciWire.StatusItem(g))]),
            ["NextToken"] = page.NextToken ?? "",
        };
    }

    private async Task<JsonObject> DescribeGroupsAsync(List<KeyValuePair<string, string>> parameters)
    {
        var ids = Value(parameters, "ContainerGroupIds") is { } text ? Ids(text) : null;
        var page = await Cloud.DescribeContainerGroupsAsync(new DescribeContainerGroupsQuery(
            ids, Tags(parameters), Int(parameters, "Limit") ?? DescribeContainerGroupsQuery.MaxLimit, Value(parameters, "NextToken")));
        return new JsonObject
        {
            ["ContainerGroups"] = new JsonArray([.. page.Items.Select(g => (JsonNode)EciWire.GroupItem(g))]),
            ["NextToken"] = page.NextToken ?? "",
            ["TotalCount"] = page.Items.Count,
        };
    }

    private async Task<JsonObject> DeleteAsync(List<KeyValuePair<string, string>> parameters)
    {
        await Cloud.DeleteContainerGroupAsync(Required(parameters, "ContainerGroupId"));
        return [];
    }

    private async Task<JsonObject> DescribeEventsAsync(List<KeyValuePair<string, string>> parameters)
    {
        var data = new JsonArray();
        foreach (var id in Ids(Required(parameters, "ContainerGroupIds")))
        {
            var events = await Cloud.DescribeContainerGroupEventsAsync(id);
            data.Add(new JsonObject { ["ContainerGroupId"] = id, ["Events"] = new JsonArray([.. events.Select(e => (JsonNode)EciWire.EventItem(e))]) });
        }

        return new JsonObject { ["Data"] = data };
    }

    private async Task<JsonObject> DescribeLogAsync(List<KeyValuePair<string, string>> parameters)
    {
        var container = Required(parameters, "ContainerName");
        var content = await Cloud.DescribeContainerLogAsync(Required(parameters, "ContainerGroupId"), container, Int(parameters, "Tail"));
        return new JsonObject { ["ContainerName"] = container, ["Content"] = content };
    }

    /// <summary>
    /// The simulator's view of a CreateContainerGroup: the containers, the spec, the tags, and the
    /// <c>sim.vnodemesh.io/</c> tags as the pod annotations that script the simulated instance.
    /// </summary>
    private static CreateContainerGroupRequest ContainerGroupRequest(List<KeyValuePair<string, string>> parameters)
    {
        var name = Required(parameters, "ContainerGroupName");
        var token = Value(parameters, "ClientToken") ?? Guid.NewGuid().ToString("N");
        var tags = Tags(parameters) ?? new Dictionary<string, string>();
        var containers = Indexed(parameters, "Container").Select(c => new V1Container
        {
            Name = c.GetValueOrDefault("Name") ?? throw new InvalidSpecException("MissingParameter.Container.Name", "Every container needs a Name."),
            Image = c.GetValueOrDefault("Image") ?? throw new InvalidSpecException("MissingParameter.Container.Image", "Every container needs an Image."),
        }).ToList();
        if (containers.Count == 0)
        {
            throw new InvalidSpecException("MissingParameter.Container", "At least one Container.N is mandatory.");
        }

        if (Value(parameters, "SecurityGroupId") is null || Value(parameters, "VSwitchId") is null)
        {
            throw new InvalidSpecException("MissingParameter.VSwitchId", "SecurityGroupId and VSwitchId are mandatory.");
        }

        InstanceSpec? spec = null;
        if (Value(parameters, "InstanceType") is { } types)
        {
            spec = InstanceSpec.TryParse(types.Split(',')[0], out var error) ?? throw new InvalidSpecException("InvalidParameter.InstanceType", error!);
        }
        else if (Value(parameters, "Cpu") is { } cpu && Value(parameters, "Memory") is { } memory)
        {
            var text = $"{double.Parse(cpu, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}-{double.Parse(memory, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}Gi";
            spec = InstanceSpec.TryParse(text, out var error) ?? throw new InvalidSpecException("InvalidParameter.Cpu", error!);
        }

        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                Annotations = tags.Where(t => t.Key.StartsWith(SimulatorAnnotations.Prefix, StringComparison.Ordinal)).ToDictionary(),
            },
            Spec = new V1PodSpec
            {
                Containers = containers,
                RestartPolicy = Value(parameters, "RestartPolicy"),
                TerminationGracePeriodSeconds = Int(parameters, "TerminationGracePeriodSeconds"),
            },
        };
        return new CreateContainerGroupRequest(token, name, pod, spec, tags);
    }

    /// <summary>Groups <c>Prefix.N.Field</c> parameters by N (from 1), each as Field → value.</summary>
    private static IEnumerable<Dictionary<string, string>> Indexed(List<KeyValuePair<string, string>> parameters, string prefix)
    {
        var groups = new SortedDictionary<int, Dictionary<string, string>>();
        foreach (var (key, value) in parameters)
        {
            if (!key.StartsWith(prefix + ".", StringComparison.Ordinal))
            {
                continue;
            }

            var rest = key.AsSpan(prefix.Length + 1);
            var dot = rest.IndexOf('.');
            if (dot > 0 && int.TryParse(rest[..dot], CultureInfo.InvariantCulture, out var n) && n >= 1)
            {
                if (!groups.TryGetValue(n, out var group))
                {
                    groups[n] = group = new(StringComparer.Ordinal);
                }

                group[rest[(dot + 1)..].ToString()] = value;
            }
        }

        return groups.Values;
    }

    private static Dictionary<string, string>? Tags(List<KeyValuePair<string, string>> parameters)
    {
        var tags = Indexed(parameters, "Tag").Where(t => t.ContainsKey("Key")).ToDictionary(t => t["Key"], t => t.GetValueOrDefault("Value") ?? "", StringComparer.Ordinal);
        return tags.Count == 0 ? null : tags;
    }

    private static List<string> Ids(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<List<string>>(json) ?? [];
        }
        catch (JsonException)
        {
            throw new InvalidSpecException("InvalidParameter.ContainerGroupIds", $"ContainerGroupIds must be a JSON array of strings, got '{json}'.");
        }
    }

    private static string? Value(List<KeyValuePair<string, string>> parameters, string key)
    {
        foreach (var (k, v) in parameters)
        {
            if (k == key)
            {
                return v;
            }
        }

        return null;
    }

    private static string Required(List<KeyValuePair<string, string>> parameters, string key) =>
        Value(parameters, key) ?? throw new InvalidSpecException($"MissingParameter.{key}", $"{key} is mandatory for this action.");

    private static int? Int(List<KeyValuePair<string, string>> parameters, string key) =>
        Value(parameters, key) is not { } text ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
        : throw new InvalidSpecException($"InvalidParameter.{key}", $"{key} must be an integer, got '{text}'.");

    /// <summary>The query and the form body, in their order, percent-decoded.</summary>
    private static List<KeyValuePair<string, string>> Parameters(HttpRequest request, byte[] body)
    {
        var list = request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? ""))).ToList();
        if (body.Length > 0 && request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) == true)
        {
            foreach (var pair in Encoding.UTF8.GetString(body).Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var key = eq < 0 ? pair : pair[..eq];
                var value = eq < 0 ? "" : pair[(eq + 1)..];
                list.Add(new(Uri.UnescapeDataString(key.Replace('+', ' ')), Uri.UnescapeDataString(value.Replace('+', ' '))));
            }
        }

        return list;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static Task Error(HttpContext http, string requestId, HttpStatusCode status, string code, string message)
    {
        http.Response.StatusCode = (int)status;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(new JsonObject
        {
            ["RequestId"] = requestId,
            ["HostId"] = http.Request.Host.Value,
            ["Code"] = code,
            ["Message"] = message,
        }.ToJsonString());
    }

    private bool TakeThrottle()
    {
        int left;
        do
        {
            left = Volatile.Read(ref _throttleNext);
            if (left <= 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _throttleNext, left - 1, left) != left);
        return true;
    }

    /// <summary>A seeded draw in [0, 1) per request, so a run's faults depend on the seed, not on timing.</summary>
    private double Chance(string requestId, int purpose)
    {
        var hash = (ulong)HashCode.Combine(_options.Seed, requestId, purpose);
        return (hash & 0xFFFFFF) / (double)0x1000000;
    }
}
