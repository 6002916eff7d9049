namespace VNodeMesh.LoadTest.Burst;

/// <summary>
/// Reads every response body except a watch's into memory asynchronously before the client sees it.
/// KubernetesClient deserializes responses with a synchronous read of the response stream, which on
/// HTTP/2 blocks a thread-pool thread per request in flight until its body arrives; with dozens in
/// flight the pool starves and the whole process (silos included) stalls for seconds while the
/// runtime slowly adds threads. Buffered, the synchronous read is a memory copy.
/// </summary>
public sealed class BufferedResponses : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (!IsWatch(request))
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
        }

        return response;
    }

    private static bool IsWatch(HttpRequestMessage request) =>
        request.RequestUri?.Query.Contains("watch=true", StringComparison.Ordinal) == true;
}
