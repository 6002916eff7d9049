using System.Diagnostics.Metrics;
using VNodeMesh.Grains;

namespace VNodeMesh.Silo.Kubernetes;

/// <summary>
/// Counts (and buffers the answers of) every request VNodeMesh makes to the API server by verb, resource and status code
/// (<c>vnodemesh.kubernetes.requests</c>): Kubernetes writes are the physical limit, so they are measured.
/// </summary>
public sealed class ApiRequestMetrics : DelegatingHandler
{
    public const string InstrumentName = "vnodemesh.kubernetes.requests";

    private static readonly Counter<long> Requests = VNodeMeshTelemetry.Meter.CreateCounter<long>(
        InstrumentName, "{request}", "Requests made to the Kubernetes API server, by verb, resource and status code");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var (verb, resource) = Describe(request);
        var code = "error";
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            code = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (verb != "watch")
            {
                // KubernetesClient reads bodies with a blocking read: buffered first, a request in flight holds no thread.
                await response.Content.LoadIntoBufferAsync(cancellationToken);
            }

            return response;
        }
        finally
        {
            Requests.Add(1, new("verb", verb), new("resource", resource), new("code", code));
        }
    }

    /// <summary>The Kubernetes verb (get, list, watch, create, patch, update, delete) and resource (pods, pods/status, ...).</summary>
    public static (string Verb, string Resource) Describe(HttpRequestMessage request)
    {
        // /api/v1/namespaces/{ns}/pods/{name}/status or /apis/{group}/{version}/namespaces/{ns}/leases/{name}
        var segments = request.RequestUri?.AbsolutePath.Trim('/').Split('/') ?? [];
        var rest = segments.Length > 0 && segments[0] == "api" ? segments.Skip(2).ToArray() : segments.Skip(3).ToArray();
        if (rest.Length >= 2 && rest[0] == "namespaces" && rest.Length > 2)
        {
            rest = rest[2..];
        }

        var resource = rest.Length switch
        {
            0 => "unknown",
            1 or 2 => rest[0],
            _ => $"{rest[0]}/{rest[2]}",
        };
        var named = rest.Length >= 2;
        var query = request.RequestUri?.Query ?? "";
        var verb = request.Method.Method switch
        {
            "GET" when query.Contains("watch=true", StringComparison.Ordinal) => "watch",
            "GET" => named ? "get" : "list",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => named ? "delete" : "deletecollection",
            var other => other.ToLowerInvariant(),
        };
        return (verb, resource);
    }
}
