using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>
/// Authenticates dashboard requests by the configured rule: a bearer header or the session cookie.
/// A user the API server knows but who lacks the configured permission is authenticated without the
/// access claim, so authorization answers 403 rather than asking again for a token.
/// </summary>
public sealed class DashboardAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggers,
    UrlEncoder encoder,
    IOptions<DashboardOptions> options,
    DashboardSessions sessions,
    IServiceProvider services) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggers, encoder)
{
    public const string SchemeName = "VNodeMesh.Dashboard";
    public const string Policy = "VNodeMesh.Dashboard";
    public const string AccessClaim = "vnodemesh.dashboard.access";
    private const string RefusalClaim = "vnodemesh.dashboard.refused";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var bearer = BearerToken(Request);
        var cookie = Request.Cookies[DashboardSessions.CookieName];
        switch (options.Value.EffectiveAuth)
        {
            case DashboardAuth.None:
                return Success("anonymous", allowed: true);
            case DashboardAuth.Token when bearer is not null:
                return sessions.IsToken(bearer) ? Success("token", allowed: true) : Failure("the bearer token is not the dashboard's token", "refused");
            case DashboardAuth.Token when cookie is not null:
                return sessions.IsValid(cookie) ? Success("token", allowed: true) : Failure("the session has ended: sign in again", "expired");
            case DashboardAuth.TokenReview when (bearer ?? cookie) is { Length: > 0 } token:
                var review = await services.GetRequiredService<KubernetesTokenReviewer>().ReviewAsync(token, Context.RequestAborted);
                return review.Authenticated
                    ? Success(review.User ?? "unknown", review.Allowed, review.Reason)
                    : Failure(review.Reason ?? "the token was not accepted", review.Unavailable ? "unavailable" : "refused");
            default:
                return AuthenticateResult.NoResult();
        }
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var failure = result.Failure?.Message;
        if (WantsPage(Request))
        {
            // The sign-in page is told a code, not a text: a link cannot make it show words of its own.
            var code = result.Properties?.GetString(ProblemKey);
            var login = "/login?returnUrl=" + Uri.EscapeDataString(Request.PathBase + Request.Path + Request.QueryString)
                + (code is null ? "" : "&reason=" + code);
            Response.Redirect(login);
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Response.WriteAsJsonAsync(new { error = failure ?? "a bearer token is required" }, Context.RequestAborted);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var reason = result.Principal?.FindFirst(RefusalClaim)?.Value ?? "this user may not see the dashboard";
        Response.StatusCode = StatusCodes.Status403Forbidden;
        if (WantsPage(Request))
        {
            await DashboardPages.WriteAsync(Context, DashboardPages.Message("Not allowed", reason, options.Value, signedIn: true));
            return;
        }

        await Response.WriteAsJsonAsync(new { error = reason }, Context.RequestAborted);
    }

    private const string ProblemKey = "vnodemesh.dashboard.problem";

    private static AuthenticateResult Failure(string message, string code) =>
        AuthenticateResult.Fail(message, new AuthenticationProperties(new Dictionary<string, string?> { [ProblemKey] = code }));

    private AuthenticateResult Success(string user, bool allowed, string? reason = null)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, user) };
        if (allowed)
        {
            claims.Add(new(AccessClaim, "granted"));
        }
        else if (reason is not null)
        {
            claims.Add(new(RefusalClaim, reason)); // why access was refused, for the 403 page
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    /// <summary>A person's browser navigating (answered with pages and redirects), rather than a script or a tool (answered with JSON).</summary>
    public static bool WantsPage(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && !request.Path.StartsWithSegments("/api")
        && request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));
}
