using System.Net;
using k8s.Autorest;

namespace VNodeMesh.Silo.Kubernetes;

internal static class ApiErrors
{
    public static HttpStatusCode? StatusOf(Exception exception) => exception switch
    {
        HttpOperationException http => http.Response?.StatusCode,
        k8s.KubernetesException k when k.Status?.Code is { } code => (HttpStatusCode)code,
        _ => null,
    };

    public static bool Is(this Exception exception, HttpStatusCode code) => StatusOf(exception) == code;

    /// <summary>Worth trying again: the server was busy or failing, or the connection broke.</summary>
    public static bool IsTransient(Exception exception) => StatusOf(exception) switch
    {
        null => exception is HttpRequestException or IOException or TaskCanceledException,
        HttpStatusCode.TooManyRequests or HttpStatusCode.Conflict => true,
        var code => (int)code >= 500,
    };
}
