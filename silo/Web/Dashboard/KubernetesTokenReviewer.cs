using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Models;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>What the API server said of a bearer token.</summary>
public sealed record TokenReviewResult(bool Authenticated, string? User, bool Allowed, string? Reason, bool Unavailable = false)
{
    public static TokenReviewResult Unreachable(string reason) => new(false, null, false, reason, Unavailable: true);
}

/// <summary>
/// <see cref="DashboardAuth.TokenReview"/>: asks the API server who a bearer token belongs to
/// (TokenReview) and, when configured, whether that user holds the dashboard's permission
/// (SubjectAccessReview). Answers are kept for a short while, by the token's hash.
/// </summary>
public sealed partial class KubernetesTokenReviewer(
    KubernetesClients clients,
    IOptions<DashboardOptions> options,
    TimeProvider time,
    ILogger<KubernetesTokenReviewer> logger)
{
    private const int CacheLimit = 1024;
    private readonly Lazy<IKubernetes> _api = new(clients.Create);
    private readonly ConcurrentDictionary<string, (TokenReviewResult Result, DateTimeOffset Until)> _answers = new();

    private TokenReviewOptions Review => options.Value.TokenReview;

    public async Task<TokenReviewResult> ReviewAsync(string token, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var now = time.GetUtcNow();
        if (_answers.TryGetValue(key, out var kept) && kept.Until > now)
        {
            return kept.Result;
        }

        TokenReviewResult result;
        try
        {
            result = await AskAsync(token, cancellationToken);
        }
        catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogReviewFailed(ex.GetType().Name, ex.Message);
            return TokenReviewResult.Unreachable("the Kubernetes API server could not review the token");
        }

        if (Review.CacheDuration > TimeSpan.Zero)
        {
            if (_answers.Count >= CacheLimit)
            {
                _answers.Clear(); // a crude bound: enough for the people looking at one silo
            }

            _answers[key] = (result, now + Review.CacheDuration);
        }

        return result;
    }

    private async Task<TokenReviewResult> AskAsync(string token, CancellationToken cancellationToken)
    {
        var review = await _api.Value.AuthenticationV1.CreateTokenReviewAsync(new V1TokenReview
        {
            Spec = new V1TokenReviewSpec { Token = token, Audiences = Review.Audiences.Count > 0 ? Review.Audiences : null },
        }, cancellationToken: cancellationToken);
        if (review.Status is not { Authenticated: true, User: { } user })
        {
            LogRefused(review.Status?.Error);
            return new(false, null, false, "the Kubernetes API server did not accept the token");
        }

        if (!Review.ChecksAccess)
        {
            return new(true, user.Username, true, null);
        }

        var access = await _api.Value.AuthorizationV1.CreateSubjectAccessReviewAsync(new V1SubjectAccessReview
        {
            Spec = new V1SubjectAccessReviewSpec
            {
                User = user.Username,
                Groups = user.Groups,
                Uid = user.Uid,
                Extra = user.Extra,
                ResourceAttributes = new V1ResourceAttributes
                {
                    Verb = Review.Verb,
                    Group = Review.Group,
                    Resource = Review.Resource,
                    Subresource = Review.Subresource,
                    NamespaceProperty = Review.Namespace,
                    Name = Review.Name,
                },
            },
        }, cancellationToken: cancellationToken);
        var allowed = access.Status?.Allowed == true;
        if (!allowed)
        {
            LogAccessDenied(user.Username, Review.Describe());
        }

        return new(true, user.Username, allowed, allowed ? null : $"{user.Username} may not {Review.Describe()}");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Dashboard: a bearer token was not authenticated by the API server ({Error})")]
    private partial void LogRefused(string? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dashboard: {User} was refused: not allowed to {Permission}")]
    private partial void LogAccessDenied(string user, string permission);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dashboard: the token review failed ({Kind}: {Message})")]
    private partial void LogReviewFailed(string kind, string message);
}
