using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>
/// The dashboard's routes: pages (<c>/nodes</c>, <c>/pods</c>, <c>/pods/{uid}</c>), their JSON
/// (<c>/api/nodes</c>, <c>/api/pods/{uid}</c>, <c>/api/pods?namespace=&amp;name=</c>), sign-in, and
/// the stylesheet. Every page and answer but sign-in and the stylesheet is behind the access rule.
/// </summary>
public static class DashboardEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // served as application/json only, never inside a page
    };

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet(DashboardPages.StylesheetPath, Stylesheet).AllowAnonymous();
        app.MapGet("/login", (HttpContext context, IOptions<DashboardOptions> options, string? returnUrl, string? reason) =>
            options.Value.EffectiveAuth == DashboardAuth.None ? Results.Redirect(LocalUrl(returnUrl)) : DashboardPages.Login(options.Value.EffectiveAuth, LocalUrl(returnUrl), DashboardPages.SignInProblem(reason)));
        app.MapPost("/login", SignInAsync);
        app.MapPost("/logout", SignOut);

        var pages = app.MapGroup("").RequireAuthorization(DashboardAuthenticationHandler.Policy);
        pages.MapGet("/", () => Results.Redirect("/nodes"));
        pages.MapGet("/nodes", async (DashboardData data, TimeProvider time) => DashboardPages.Nodes(await data.NodesAsync(), time.GetUtcNow()));
        pages.MapGet("/pods", SearchAsync);
        pages.MapGet("/pods/{uid}", TraceAsync);
        pages.MapGet("/api/nodes", async (DashboardData data) => Results.Json(await data.NodesAsync(), Json));
        pages.MapGet("/api/pods", FindJsonAsync);
        pages.MapGet("/api/pods/{uid}", TraceJsonAsync);
    }

    private static async Task<IResult> SearchAsync(DashboardData data, string? @namespace, string? name, string? uid, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(uid))
        {
            return ParseUid(uid, out var parsed, out var error)
                ? Results.Redirect($"/pods/{parsed:D}")
                : DashboardPages.Search(@namespace, name, uid, error, StatusCodes.Status400BadRequest);
        }

        if (string.IsNullOrWhiteSpace(@namespace) && string.IsNullOrWhiteSpace(name))
        {
            return DashboardPages.Search(null, null, null);
        }

        var (found, problem, status) = await FindAsync(data, @namespace, name, cancellationToken);
        return found is { } pod ? Results.Redirect($"/pods/{pod:D}") : DashboardPages.Search(@namespace, name, null, problem, status);
    }

    private static async Task<IResult> TraceAsync(DashboardData data, TimeProvider time, string uid)
    {
        if (!ParseUid(uid, out var parsed, out var error))
        {
            return DashboardPages.Search(null, null, uid, error, StatusCodes.Status400BadRequest);
        }

        var (trace, problem, status) = await ReadAsync(data, time, parsed);
        return trace is not null ? DashboardPages.Trace(trace) : DashboardPages.Search(null, null, uid, problem, status);
    }

    private static async Task<IResult> FindJsonAsync(DashboardData data, TimeProvider time, string? @namespace, string? name, CancellationToken cancellationToken)
    {
        var (found, problem, status) = await FindAsync(data, @namespace, name, cancellationToken);
        if (found is not { } uid)
        {
            return Problem(problem!, status);
        }

        var (trace, readProblem, readStatus) = await ReadAsync(data, time, uid);
        return trace is null ? Problem(readProblem!, readStatus) : Results.Json(TraceJson(trace), Json);
    }

    private static async Task<IResult> TraceJsonAsync(DashboardData data, TimeProvider time, string uid)
    {
        if (!ParseUid(uid, out var parsed, out var error))
        {
            return Problem(error, StatusCodes.Status400BadRequest);
        }

        var (trace, problem, status) = await ReadAsync(data, time, parsed);
        return trace is null ? Problem(problem!, status) : Results.Json(TraceJson(trace), Json);
    }

    private static async Task<(Guid? Uid, string? Problem, int Status)> FindAsync(DashboardData data, string? @namespace, string? name, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(@namespace) || string.IsNullOrWhiteSpace(name))
        {
            return (null, "Give both a namespace and a name, or a UID.", StatusCodes.Status400BadRequest);
        }

        try
        {
            return await data.FindPodAsync(@namespace.Trim(), name.Trim(), cancellationToken) is { } uid
                ? (uid, null, StatusCodes.Status200OK)
                : (null, $"No pod {@namespace.Trim()}/{name.Trim()} is known to the virtual nodes of this cluster.", StatusCodes.Status404NotFound);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException or k8s.Autorest.HttpOperationException or HttpRequestException)
        {
            return (null, $"The pod could not be looked up: {ex.Message}", StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static async Task<(PodTrace? Trace, string? Problem, int Status)> ReadAsync(DashboardData data, TimeProvider time, Guid uid)
    {
        try
        {
            return await data.ReadPodAsync(uid) is { } pod
                ? (PodTrace.From(pod, time.GetUtcNow()), null, StatusCodes.Status200OK)
                : (null, $"No pod with UID {uid:D} is known to VNodeMesh: it was never bound to one of its virtual nodes, or it has been deleted.", StatusCodes.Status404NotFound);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            return (null, $"The pod's trace could not be read: {ex.Message}", StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static bool ParseUid(string value, out Guid uid, out string error)
    {
        error = "";
        if (Guid.TryParseExact(value.Trim(), "D", out uid))
        {
            return true;
        }

        error = $"'{(value.Length > 64 ? value[..64] + "…" : value)}' is not a pod UID: a UID is 36 characters, 8-4-4-4-12 hexadecimal digits.";
        return false;
    }

    private static IResult Problem(string message, int status) => Results.Json(new { error = message }, Json, statusCode: status);

    private static object TraceJson(PodTrace trace)
    {
        var pod = trace.Pod;
        return new
        {
            pod.Uid,
            pod.Namespace,
            pod.Name,
            pod.Node,
            pod.Stage,
            pod.Phase,
            pod.InstanceId,
            pod.Attempts,
            pod.Reason,
            pod.Message,
            pod.AcceptedAt,
            pod.RunningAt,
            StartupLatencyMs = trace.StartupLatency?.TotalMilliseconds,
            ProviderCalls = trace.Calls,
            Transitions = trace.Steps.Select(s => new
            {
                s.At,
                s.From,
                s.To,
                s.Event,
                s.Attempt,
                s.ErrorCode,
                s.Detail,
                SincePreviousMs = s.SincePrevious.TotalMilliseconds,
                SinceStartMs = s.SinceStart.TotalMilliseconds,
                ProviderCall = s.Call?.Operation,
                ProviderCallSucceeded = s.Call?.Succeeded,
                s.GapBefore,
            }),
            pod.DroppedTransitions,
        };
    }

    private static async Task<IResult> SignInAsync(HttpContext context, IOptions<DashboardOptions> options, DashboardSessions sessions)
    {
        if (!SameOrigin(context.Request))
        {
            return Results.StatusCode(StatusCodes.Status403Forbidden);
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var token = form["token"].ToString().Trim();
        var returnUrl = LocalUrl(form["returnUrl"]);
        var lifetime = options.Value.SessionLifetime;
        string cookie;
        switch (options.Value.EffectiveAuth)
        {
            case DashboardAuth.Token when sessions.IsToken(token):
                cookie = sessions.Issue().Value;
                break;
            case DashboardAuth.TokenReview when token.Length > 0:
                var review = await context.RequestServices.GetRequiredService<KubernetesTokenReviewer>().ReviewAsync(token, context.RequestAborted);
                if (!review.Authenticated)
                {
                    return DashboardPages.Login(DashboardAuth.TokenReview, returnUrl, review.Reason, review.Unavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status401Unauthorized);
                }

                // The API server decides on every request (through the review cache), so the cookie holds the token itself.
                cookie = token;
                break;
            case DashboardAuth.None:
                return Results.Redirect(returnUrl);
            default:
                return DashboardPages.Login(options.Value.EffectiveAuth, returnUrl, "The token was not accepted.", StatusCodes.Status401Unauthorized);
        }

        context.Response.Cookies.Append(DashboardSessions.CookieName, cookie, new CookieOptions
        {
            HttpOnly = true,
            Secure = context.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            MaxAge = lifetime,
        });
        return Results.Redirect(returnUrl);
    }

    private static IResult SignOut(HttpContext context)
    {
        if (!SameOrigin(context.Request))
        {
            return Results.StatusCode(StatusCodes.Status403Forbidden);
        }

        context.Response.Cookies.Delete(DashboardSessions.CookieName, new CookieOptions { Path = "/" });
        return Results.Redirect("/login");
    }

    /// <summary>A form posted from another site is refused: browsers name the page's origin on every POST.</summary>
    private static bool SameOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        return origin.Length == 0 || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Only a path on this site: a sign-in never sends anyone elsewhere.</summary>
    private static string LocalUrl(string? url) =>
        url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) ? url : "/nodes";

    private static IResult Stylesheet() => Results.Text(StylesheetText.Value, "text/css; charset=utf-8");

    private static readonly Lazy<string> StylesheetText = new(() =>
    {
        const string resource = "VNodeMesh.Silo.Web.Dashboard.vnodemesh.css";
        using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the dashboard's stylesheet {resource} is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });
}
