using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using VNodeMesh.Silo.Web.Dashboard;

namespace VNodeMesh.LoadTest.Burst;

/// <summary>What the report says of the dashboard in a run (<c>--dashboard on</c>): what the tool's viewers fetched.</summary>
public sealed record DashboardReport
{
    public bool Enabled { get; init; }
    /// <summary>Whether Orleans' dashboard timed grain calls (<c>--dashboard profiled</c>).</summary>
    public bool ProfileGrainCalls { get; init; }
    public double? ViewIntervalSeconds { get; init; }
    /// <summary>Requests answered or failed, on every silo.</summary>
    public int Requests { get; init; }
    /// <summary>Requests without an answer, answered other than 2xx (a 401 too: the silos were given the tool's token), or with a node the page could not reach.</summary>
    public int Failures { get; init; }
    /// <summary>Bytes of the answers' bodies.</summary>
    public long Bytes { get; init; }
    /// <summary>The first failure: the request and what went wrong.</summary>
    public string? FirstFailure { get; init; }
}

/// <summary>
/// The dashboard as a silo in production serves it, for a burst with <c>--dashboard on</c>: every silo runs it behind a
/// token the tool makes up, with Orleans' own dashboard (timing grain calls with <c>--dashboard profiled</c>), and the tool views it
/// as people watching the burst would: every second, on every silo, the virtual nodes' JSON, the trace of a pod the
/// burst has just submitted (looked up by name), and what Orleans' dashboard polls.
/// </summary>
public sealed class BurstDashboard : IAsyncDisposable
{
    public static readonly TimeSpan ViewInterval = TimeSpan.FromSeconds(1);

    /// <summary>What every page of Orleans' dashboard polls, every second: the silos, and calls and activations per grain type.</summary>
    public const string OrleansDashboardData = "/dashboard/DashboardCounters";

    private readonly string _token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly CancellationTokenSource _stop = new();
    private BackgroundLoop? _viewing;
    private PodManifest? _pod;
    private int _requests, _failures;
    private long _bytes;
    private string? _firstFailure;

    private readonly bool _profileGrainCalls;

    private BurstDashboard(bool profileGrainCalls)
    {
        _profileGrainCalls = profileGrainCalls;
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <returns>Null when the run is without the dashboard.</returns>
    public static BurstDashboard? Start(BurstSettings settings) => settings.Dashboard ? new BurstDashboard(settings.ProfileGrainCalls) : null;

    /// <summary>The silos' <c>VNodeMesh:Dashboard</c> settings: this run's token, and Orleans' dashboard on, timing grain calls or not.</summary>
    public Dictionary<string, string?> SiloSettings(IReadOnlyDictionary<string, string?> settings) => new(settings)
    {
        [$"{DashboardOptions.Section}:{nameof(DashboardOptions.Token)}"] = _token,
        [$"{DashboardOptions.Section}:{nameof(DashboardOptions.OrleansDashboard)}"] = "true",
        [$"{DashboardOptions.Section}:{nameof(DashboardOptions.ProfileGrainCalls)}"] = _profileGrainCalls ? "true" : "false",
    };

    /// <summary>A pod the burst has submitted: the next views look up its trace.</summary>
    public void Submitted(PodManifest pod) => Volatile.Write(ref _pod, pod);

    /// <summary>
    /// Views every running silo's dashboard once, as someone who opened it before the burst, then again every
    /// <see cref="ViewInterval"/> until disposed.
    /// </summary>
    public async Task StartViewingAsync(LocalSiloCluster cluster)
    {
        await ViewOnceAsync(cluster);
        _viewing = BackgroundLoop.Every(ViewInterval, _ => ViewOnceAsync(cluster));
    }

    private async Task ViewOnceAsync(LocalSiloCluster cluster)
    {
        var pod = Volatile.Read(ref _pod);
        foreach (var silo in cluster.HttpAddresses)
        {
            await ViewAsync(new Uri(silo, "/api/nodes"), UnreachableNode);
            if (pod is not null)
            {
                await ViewAsync(new Uri(silo, $"/api/pods?namespace={Uri.EscapeDataString(pod.Namespace)}&name={Uri.EscapeDataString(pod.Name)}"));
            }

            await ViewAsync(new Uri(silo, OrleansDashboardData));
        }
    }

    private async Task ViewAsync(Uri uri, Func<byte[], string?>? problemIn = null)
    {
        string? failure;
        try
        {
            using var response = await _http.GetAsync(uri, _stop.Token);
            var body = await response.Content.ReadAsByteArrayAsync(_stop.Token);
            Interlocked.Add(ref _bytes, body.Length);
            failure = response.IsSuccessStatusCode
                ? problemIn?.Invoke(body)
                : $"{(int)response.StatusCode} {response.ReasonPhrase}: {Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200))}";
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException || (ex is TaskCanceledException && !_stop.IsCancellationRequested))
        {
            failure = ex.Message; // a killed silo, an answer slower than the client's timeout, or not the JSON expected
        }

        Interlocked.Increment(ref _requests);
        if (failure is not null)
        {
            Interlocked.Increment(ref _failures);
            Interlocked.CompareExchange(ref _firstFailure, $"GET {uri.PathAndQuery} on {uri.Authority}: {failure}", null);
        }
    }

    /// <summary>The nodes' JSON is a 200 even for a node it could not reach (with its error): that is no view of the node.</summary>
    private static string? UnreachableNode(byte[] body)
    {
        using var nodes = JsonDocument.Parse(body);
        return nodes.RootElement.EnumerateArray()
            .Select(node => node.TryGetProperty("error", out var error) ? error.GetString() : null)
            .FirstOrDefault(error => error is not null);
    }

    public DashboardReport Report() => new()
    {
        Enabled = true,
        ProfileGrainCalls = _profileGrainCalls,
        ViewIntervalSeconds = ViewInterval.TotalSeconds,
        Requests = Volatile.Read(ref _requests),
        Failures = Volatile.Read(ref _failures),
        Bytes = Interlocked.Read(ref _bytes),
        FirstFailure = Volatile.Read(ref _firstFailure),
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_viewing is not null)
        {
            await _viewing.DisposeAsync();
        }
        _http.Dispose();
        _stop.Dispose();
    }
}
