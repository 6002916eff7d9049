using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using VNodeMesh.LoadTest.Burst;

namespace VNodeMesh.LoadTest.Cluster;

/// <summary>
/// Reads what the silo processes count themselves, from each one's Prometheus endpoint
/// (<c>/metrics</c> on its HTTP port) every second: VNodeMesh's API requests by verb, resource and
/// code, the pods' retries, and the bridge's status and Event queues. A silo that was killed keeps
/// what its last scrape said, so what it did after that scrape is missing.
/// </summary>
public sealed partial class SiloMetricsScraper : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly SiloProcessCluster _cluster;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly ConcurrentDictionary<int, SiloCounts> _latest = new();
    private readonly BackgroundLoop _loop;

    public SiloMetricsScraper(SiloProcessCluster cluster)
    {
        _cluster = cluster;
        _loop = new BackgroundLoop(RunAsync);
    }

    /// <summary>The API requests counted by every silo, up to its last scrape.</summary>
    public IReadOnlyDictionary<ApiRequestKind, long> ApiRequests() =>
        _latest.Values.SelectMany(c => c.Requests).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Sum(p => p.Value));

    public long Retries => _latest.Values.Sum(c => c.Retries);

    /// <summary>Pod statuses waiting to be written, in the running silos.</summary>
    public int StatusBacklog => RunningCounts().Sum(c => c.StatusQueue);

    /// <summary>Events waiting for their budget, in the running silos.</summary>
    public int EventsPending => RunningCounts().Sum(c => c.EventQueue);

    /// <summary>Scrapes every running silo now.</summary>
    public async Task ScrapeAsync(CancellationToken cancellationToken)
    {
        foreach (var silo in _cluster.Running)
        {
            try
            {
                var text = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/metrics"), cancellationToken);
                _latest[silo.Index] = Parse(text);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // dying or busy: its last counts stand
            }
        }
    }

    private IEnumerable<SiloCounts> RunningCounts() =>
        _cluster.Running.Select(s => _latest.GetValueOrDefault(s.Index)).OfType<SiloCounts>();

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            await ScrapeAsync(cancellationToken);
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The lines of the Prometheus text format this scraper needs.</summary>
    public static SiloCounts Parse(string text)
    {
        var requests = new Dictionary<ApiRequestKind, long>();
        long retries = 0;
        int status = 0, events = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || Sample().Match(line) is not { Success: true } sample
                || !double.TryParse(sample.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            switch (sample.Groups["name"].Value)
            {
                case "vnodemesh_kubernetes_requests_total":
                    var labels = Label().Matches(sample.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
                    var kind = new ApiRequestKind(labels.GetValueOrDefault("verb", ""), labels.GetValueOrDefault("resource", ""), labels.GetValueOrDefault("code", ""));
                    requests[kind] = requests.GetValueOrDefault(kind) + (long)value;
                    break;
                case "vnodemesh_pod_retries_total":
                    retries += (long)value;
                    break;
                case "vnodemesh_kubernetes_status_queue":
                    status += (int)value;
                    break;
                case "vnodemesh_kubernetes_events_queue":
                    events += (int)value;
                    break;
            }
        }

        return new SiloCounts(requests, retries, status, events);
    }

    public async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync();
        _http.Dispose();
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(\w+)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}

/// <summary>What one silo counted, as of its last scrape.</summary>
public sealed record SiloCounts(IReadOnlyDictionary<ApiRequestKind, long> Requests, long Retries, int StatusQueue, int EventQueue);
