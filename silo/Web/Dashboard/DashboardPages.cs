using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>A server-rendered page: HTML with its status code, served with a strict content policy.</summary>
public sealed record DashboardPage(string Title, string Body, int StatusCode = StatusCodes.Status200OK) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => DashboardPages.WriteAsync(httpContext, this);
}

/// <summary>
/// VNodeMesh's dashboard pages, rendered on the server as plain HTML with one stylesheet served by
/// the silo: no script, nothing fetched from elsewhere.
/// </summary>
public static class DashboardPages
{
    public const string StylesheetPath = "/dashboard-assets/vnodemesh.css";

    /// <summary>The stages a node's pods can be counted in, grouped as the pod phase shows them.</summary>
    private static readonly (string Group, PodStage[] Stages)[] StageGroups =
    [
        ("Pending", [PodStage.New, PodStage.Creating, PodStage.BackingOff, PodStage.Recovering, PodStage.Scheduling, PodStage.Pending, PodStage.Restarting, PodStage.Updating]),
        ("Running", [PodStage.Running, PodStage.Terminating]),
        ("Ended", [PodStage.Succeeded, PodStage.Failed]),
        ("Released", [PodStage.Deleting]),
    ];

    private static readonly HtmlEncoder Encoder = HtmlEncoder.Default;

    public static async Task WriteAsync(HttpContext context, DashboardPage page)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<DashboardOptions>>().Value;
        var response = context.Response;
        response.StatusCode = page.StatusCode;
        response.ContentType = "text/html; charset=utf-8";
        SecurityHeaders(response);
        var signedIn = options.EffectiveAuth != DashboardAuth.None && context.User.Identity?.IsAuthenticated == true;
        await response.WriteAsync(Layout(page.Title, page.Body, options, signedIn), context.RequestAborted);
    }

    public static void SecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "same-origin"; // "no-referrer" would make browsers send "Origin: null" with the sign-in form
        response.Headers.CacheControl = "no-store";
    }

    public static DashboardPage Message(string title, string message, DashboardOptions options, bool signedIn, int status = StatusCodes.Status403Forbidden) =>
        new(title, $"<section class=\"card notice\"><h1>{H(title)}</h1><p class=\"message\">{H(message)}</p><p><a href=\"/nodes\">Virtual nodes</a></p></section>", status);

    /// <summary>Why the sign-in page is shown again, from the code the authentication handler sends it to.</summary>
    public static string? SignInProblem(string? code) => code switch
    {
        "expired" => "Your session has ended: sign in again.",
        "refused" => "The token was not accepted.",
        "unavailable" => "The Kubernetes API server could not review the token; try again.",
        _ => null,
    };

    public static DashboardPage Login(DashboardAuth? auth, string? returnUrl, string? reason, int status = StatusCodes.Status200OK)
    {
        var body = new StringBuilder();
        body.Append("<section class=\"card login\"><h1>Sign in</h1>");
        body.Append(auth == DashboardAuth.TokenReview
            ? "<p>Give a Kubernetes bearer token, a ServiceAccount's for example: the API server checks it with a TokenReview.</p>"
            : "<p>Give the dashboard's token (<code>VNodeMesh:Dashboard:Token</code>).</p>");
        if (reason is not null)
        {
            body.Append($"<p class=\"error message\" role=\"alert\">{H(reason)}</p>");
        }

        body.Append("<form method=\"post\" action=\"/login\">");
        body.Append($"<input type=\"hidden\" name=\"returnUrl\" value=\"{H(returnUrl ?? "/nodes")}\">");
        body.Append("<label>Token <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" required autofocus></label>");
        body.Append("<button type=\"submit\">Sign in</button></form></section>");
        return new("Sign in", body.ToString(), status);
    }

    public static DashboardPage Nodes(IReadOnlyList<NodeStatus> nodes, DateTimeOffset now)
    {
        var body = new StringBuilder();
        body.Append("<div class=\"page-head\"><h1>Virtual nodes</h1><a class=\"button\" href=\"/nodes\">Refresh</a></div>");
        body.Append($"<p class=\"muted\">As reported by the node grains at {Time(now)} UTC. The provider budget is the account's bucket as the silo of each node's grain last saw it (on the cluster profile, the one all silos share in Redis); the calls in flight and the tokens spent are that silo's.</p>");
        foreach (var node in nodes)
        {
            body.Append($"<section class=\"card node\" data-node=\"{H(node.Name)}\">");
            body.Append($"<h2>{H(node.Name)}</h2>");
            if (node.Summary is not { } s)
            {
                body.Append($"<p class=\"error message\">{H(node.Error ?? "no answer")}</p></section>");
                continue;
            }

            var used = s.Pods - s.PodsByStage.GetValueOrDefault(PodStage.Succeeded) - s.PodsByStage.GetValueOrDefault(PodStage.Failed);
            body.Append("<div class=\"capacity\">");
            body.Append($"<span><strong data-field=\"active\">{N(used)}</strong> of <span data-field=\"capacity\">{N(s.Capacity)}</span> pod slots in use · <span data-field=\"pods\">{N(s.Pods)}</span> pods known</span>");
            body.Append($"<meter min=\"0\" max=\"{s.Capacity}\" value=\"{used}\" high=\"{s.Capacity * 0.9:0}\">{used}</meter></div>");

            body.Append("<div class=\"stage-groups\">");
            foreach (var (group, stages) in StageGroups)
            {
                body.Append($"<div class=\"stage-group\"><h3>{group}</h3><div class=\"stages\">");
                foreach (var stage in stages)
                {
                    var count = s.PodsByStage.GetValueOrDefault(stage);
                    body.Append($"<div class=\"stage {StageClass(stage)}{(count == 0 ? " zero" : "")}\" data-stage=\"{stage}\"><span class=\"count\">{N(count)}</span><span class=\"name\">{StageLabel(stage)}</span></div>");
                }

                body.Append("</div></div>");
            }

            body.Append("</div><div class=\"facts\">");
            body.Append("<dl><dt>Provider budget</dt>");
            if (s.Quota is not { } q)
            {
                body.Append("<dd>not reported by this provider</dd>");
            }
            else if (q.Unlimited)
            {
                body.Append("<dd data-field=\"quota\">unlimited</dd>");
            }
            else
            {
                body.Append($"<dd data-field=\"quota\"><strong>{N(q.Available)}</strong> of {N(q.Burst)} tokens available, refilled at {q.PerSecond.ToString("0.##", CultureInfo.InvariantCulture)}/s");
                body.Append($"<meter min=\"0\" max=\"{q.Burst}\" value=\"{q.Available}\" low=\"{Math.Max(1, q.Burst / 10)}\" optimum=\"{q.Burst}\">{q.Available}</meter></dd>");
            }

            if (s.Quota is { } usage)
            {
                body.Append($"<dt>Creates in flight</dt><dd data-field=\"creates-in-flight\">{N(usage.CreatesInFlight)}</dd>");
                body.Append($"<dt>Deletes in flight</dt><dd data-field=\"deletes-in-flight\">{N(usage.DeletesInFlight)}</dd>");
                body.Append($"<dt>Waiting for a token</dt><dd data-field=\"queued\">{N(usage.Queued)}</dd>");
                body.Append($"<dt>Tokens spent</dt><dd data-field=\"spent\">{N(usage.Spent)}</dd>");
            }

            body.Append("</dl><dl>");
            body.Append($"<dt>Back-offs</dt><dd data-field=\"backoffs\">{N(s.BackOffs)}</dd>");
            body.Append($"<dt>Retries</dt><dd data-field=\"retries\">{N(s.Retries)}</dd>");
            body.Append($"<dt>Refused at capacity</dt><dd data-field=\"refused\">{N(s.RefusedForCapacity)}</dd>");
            body.Append($"<dt>Last status poll</dt><dd data-field=\"last-poll\">{(s.LastPollAt is { } at ? $"{Time(at)} ({Duration(now - at)} ago)" : "not yet")}</dd>");
            body.Append($"<dt>Polls</dt><dd data-field=\"polls\">{N(s.Polls)}</dd>");
            body.Append($"<dt>Statuses fanned out</dt><dd data-field=\"fanned-out\">{N(s.StatusesFannedOut)}</dd>");
            body.Append("</dl></div></section>");
        }

        return new("Virtual nodes", body.ToString());
    }

    public static DashboardPage Search(string? @namespace, string? name, string? uid, string? error = null, int status = StatusCodes.Status200OK)
    {
        var body = new StringBuilder();
        body.Append("<h1>Pod lifecycle trace</h1>");
        SearchForm(body, @namespace, name, uid);
        if (error is not null)
        {
            body.Append($"<p class=\"error message\" role=\"alert\">{H(error)}</p>");
        }
        else
        {
            body.Append("<p class=\"muted\">Find a pod by its namespace and name, or by its UID, to see every transition of its lifecycle.</p>");
        }

        return new("Pod trace", body.ToString(), status);
    }

    public static DashboardPage Trace(PodTrace trace)
    {
        var pod = trace.Pod;
        var body = new StringBuilder();
        SearchForm(body, pod.Namespace, pod.Name, null);
        body.Append($"<section class=\"card pod\" data-uid=\"{pod.Uid}\">");
        body.Append($"<div class=\"page-head\"><h1>{H(pod.Namespace ?? "?")}/{H(pod.Name ?? "?")}</h1>");
        body.Append($"<span class=\"chip {StageClass(pod.Stage)}\" data-field=\"stage\" title=\"stage\">{pod.Stage}</span><span class=\"chip phase\" title=\"pod phase\">phase <span data-field=\"phase\">{pod.Phase}</span></span></div>");
        body.Append("<div class=\"facts\"><dl>");
        body.Append($"<dt>UID</dt><dd><code data-field=\"uid\">{pod.Uid}</code></dd>");
        body.Append($"<dt>Virtual node</dt><dd data-field=\"node\">{H(pod.Node ?? "")}</dd>");
        body.Append($"<dt>Instance</dt><dd><code data-field=\"instance\">{H(pod.InstanceId ?? "none")}</code></dd>");
        body.Append($"<dt>Create attempts</dt><dd data-field=\"attempts\">{pod.Attempts}</dd>");
        if (pod.Reason is not null)
        {
            body.Append($"<dt>Reason</dt><dd data-field=\"reason\">{H(pod.Reason)}</dd>");
        }

        if (pod.Message is not null)
        {
            body.Append($"<dt>Message</dt><dd data-field=\"message\">{H(pod.Message)}</dd>");
        }

        body.Append("</dl><dl>");
        body.Append($"<dt>Accepted</dt><dd>{(pod.AcceptedAt is { } accepted ? Time(accepted) : "—")}</dd>");
        body.Append($"<dt>Running since</dt><dd>{(pod.RunningAt is { } running ? Time(running) : "—")}</dd>");
        body.Append($"<dt>Start-up latency</dt><dd data-field=\"startup\">{(trace.StartupLatency is { } latency ? Duration(latency) : "—")}</dd>");
        body.Append($"<dt>Provider calls in the trace</dt><dd data-field=\"calls\">{Calls(trace.Calls)}</dd>");
        body.Append("</dl></div>");
        StageBar(body, trace.Spans);
        body.Append("</section>");

        body.Append($"<section class=\"card\"><h2>Timeline <span class=\"muted\">({trace.Steps.Count} transitions, times in UTC)</span></h2><ol class=\"timeline\">");
        foreach (var step in trace.Steps)
        {
            if (step.GapBefore)
            {
                var dropped = pod.DroppedTransitions > 0 ? $"{N(pod.DroppedTransitions)} transitions" : "Transitions";
                body.Append($"<li class=\"gap\" data-dropped=\"{pod.DroppedTransitions}\">{dropped} here were dropped to keep the trace within VNodeMesh:Pods:HistoryLimit</li>");
            }

            body.Append($"<li class=\"step {StageClass(step.To)}{(step.ErrorCode is null ? "" : " failed-call")}\" data-event=\"{H(step.Event)}\" data-from=\"{step.From}\" data-to=\"{step.To}\" data-attempt=\"{step.Attempt}\"{(step.ErrorCode is null ? "" : $" data-error=\"{H(step.ErrorCode)}\"")}>");
            body.Append($"<div class=\"when\">{Time(step.At)}<span class=\"delta\" title=\"since the previous transition\">+{Duration(step.SincePrevious)}</span><span class=\"total\" title=\"since the first transition\">t = {Duration(step.SinceStart)}</span></div>");
            body.Append("<div class=\"what\">");
            body.Append($"<span class=\"transition\">{step.From} → {step.To}</span> <span class=\"event\">{H(step.Event)}</span> <span class=\"attempt\">attempt {step.Attempt}</span>");
            if (step.Call is { } call)
            {
                body.Append($" <span class=\"call {(call.Succeeded ? "ok" : "failed")}\" data-call=\"{call.Operation}\">provider {call.Operation}: {(call.Succeeded ? "ok" : "failed")}</span>");
            }

            if (step.ErrorCode is not null)
            {
                body.Append($" <code class=\"error-code\">{H(step.ErrorCode)}</code>");
            }

            if (step.Detail is not null)
            {
                body.Append($"<p class=\"detail\">{H(step.Detail)}</p>");
            }

            body.Append("</div></li>");
        }

        body.Append("</ol></section>");
        return new($"{pod.Namespace}/{pod.Name}", body.ToString());
    }

    /// <summary>The calls in the trace, by operation: <c>create 4 (3 failed) · status 2</c>.</summary>
    private static string Calls(ProviderCallCounts c)
    {
        var parts = new List<string>();
        void Add(string name, int ok, int failed)
        {
            if (ok + failed > 0)
            {
                parts.Add(failed > 0 ? $"{name} {ok + failed} ({failed} failed)" : $"{name} {ok}");
            }
        }

        Add("create", c.Creates, c.CreatesFailed);
        Add("lookup", c.Lookups, c.LookupsFailed);
        Add("delete", c.Deletes, c.DeletesFailed);
        Add("status seen", c.StatusObservations, 0);
        return parts.Count == 0 ? "none in the trace" : string.Join(" · ", parts);
    }

    private static void SearchForm(StringBuilder body, string? @namespace, string? name, string? uid)
    {
        body.Append("<form class=\"search card\" method=\"get\" action=\"/pods\">");
        body.Append($"<label>Namespace <input name=\"namespace\" value=\"{H(@namespace ?? "")}\" placeholder=\"default\"></label>");
        body.Append($"<label>Name <input name=\"name\" value=\"{H(name ?? "")}\" placeholder=\"web-0\"></label>");
        body.Append("<span class=\"or\">or</span>");
        body.Append($"<label>UID <input name=\"uid\" value=\"{H(uid ?? "")}\" size=\"38\" placeholder=\"8-4-4-4-12 hex digits\"></label>");
        body.Append("<button type=\"submit\">Trace</button></form>");
    }

    /// <summary>The stages as one bar, each as wide as the time spent in it (a sliver at least), drawn as SVG.</summary>
    private static void StageBar(StringBuilder body, IReadOnlyList<StageSpan> spans)
    {
        if (spans.Count == 0)
        {
            return;
        }

        const double width = 1000, minimum = 6;
        var total = Math.Max(1, spans.Sum(s => s.Duration.TotalMilliseconds));
        var raw = spans.Select(s => Math.Max(minimum, s.Duration.TotalMilliseconds / total * width)).ToArray();
        var scale = width / raw.Sum();
        var x = 0.0;
        body.Append($"<svg class=\"stage-bar\" viewBox=\"0 0 {width} 28\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"time spent per stage\">");
        for (var i = 0; i < spans.Count; i++)
        {
            var w = raw[i] * scale;
            var span = spans[i];
            body.Append(string.Create(CultureInfo.InvariantCulture,
                $"<rect class=\"{(span.Unknown ? "s-unknown" : StageClass(span.Stage))}\" x=\"{x:0.##}\" y=\"0\" width=\"{w:0.##}\" height=\"28\"><title>{SpanText(span)}</title></rect>"));
            x += w;
        }

        body.Append("</svg><ul class=\"legend\">");
        var final = spans[^1] is { Open: false } last ? last : null;
        foreach (var span in spans.GroupBy(s => s.Stage).Where(g => g.Any(s => !s.Unknown)))
        {
            var timed = span.Where(s => !s.Unknown && s != final).ToList();
            var time = timed.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Duration);
            // The stage a pod ended in has no duration: it is where the trace stops.
            var text = timed.Count == 0 ? "(the end)" : Duration(time) + (span.Any(s => s.Open) ? " so far" : "");
            body.Append($"<li class=\"{StageClass(span.Key)}\">{StageLabel(span.Key)} {text}</li>");
        }

        body.Append("</ul>");
    }

    private static string SpanText(StageSpan span) =>
        span.Unknown ? $"{span.Stage}, then transitions dropped from the trace" : $"{span.Stage}: {Duration(span.Duration)}{(span.Open ? " so far" : "")}";

    private static string Layout(string title, string body, DashboardOptions options, bool signedIn)
    {
        var html = new StringBuilder(body.Length + 1024);
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Append($"<title>{H(title)} · VNodeMesh</title><link rel=\"stylesheet\" href=\"{StylesheetPath}\"></head><body>");
        html.Append("<header class=\"top\"><a class=\"brand\" href=\"/nodes\">VNodeMesh</a><nav>");
        html.Append("<a href=\"/nodes\">Virtual nodes</a><a href=\"/pods\">Pod trace</a>");
        if (options.OrleansDashboard)
        {
            html.Append("<a href=\"/dashboard/\">Orleans dashboard</a>");
        }

        html.Append("</nav>");
        if (signedIn)
        {
            html.Append("<form class=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>");
        }

        html.Append("</header><main>").Append(body).Append("</main></body></html>");
        return html.ToString();
    }

    private static string StageClass(PodStage stage) => "s-" + stage.ToString().ToLowerInvariant();

    private static string StageLabel(PodStage stage) => stage switch
    {
        PodStage.New => "Admitting",
        PodStage.BackingOff => "Backing off",
        _ => stage.ToString(),
    };

    private static string H(string value) => Encoder.Encode(value);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset at) =>
        $"<time datetime=\"{at.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\" title=\"{at.UtcDateTime:yyyy-MM-dd HH:mm:ss.fff} UTC\">{at.UtcDateTime:HH:mm:ss.fff}</time>";

    /// <summary>Milliseconds below a second, then seconds, minutes and hours.</summary>
    public static string Duration(TimeSpan span)
    {
        var ms = Math.Max(0, span.TotalMilliseconds);
        return ms switch
        {
            < 1000 => $"{ms:0} ms",
            < 60_000 => string.Create(CultureInfo.InvariantCulture, $"{ms / 1000:0.0} s"),
            < 3_600_000 => $"{(int)(ms / 60_000)} min {(int)(ms / 1000) % 60:00} s",
            _ => $"{(int)(ms / 3_600_000)} h {(int)(ms / 60_000) % 60:00} min",
        };
    }
}
