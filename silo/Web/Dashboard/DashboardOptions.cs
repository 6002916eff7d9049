using System.ComponentModel.DataAnnotations;
using VNodeMesh.Silo.Kubernetes;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>Who may see the dashboard.</summary>
public enum DashboardAuth
{
    /// <summary>A shared secret: a bearer header, or the login form that sets a session cookie.</summary>
    Token,
    /// <summary>A Kubernetes bearer token, checked with a TokenReview (and a SubjectAccessReview when configured).</summary>
    TokenReview,
    /// <summary>Anyone who can reach the port.</summary>
    None,
}

/// <summary>
/// The dashboard (section <c>VNodeMesh:Dashboard</c>): VNodeMesh's pages and Orleans' own dashboard.
/// It is on once an access rule is configured (a <see cref="Token"/>, or <see cref="Auth"/>); open
/// access needs <c>Auth=None</c> said explicitly.
/// </summary>
public sealed class DashboardOptions
{
    public const string Section = "VNodeMesh:Dashboard";

    public const int MinimumTokenLength = 16;

    /// <summary><see cref="DashboardAuth.Token"/> by default when a <see cref="Token"/> is set.</summary>
    public DashboardAuth? Auth { get; set; }

    /// <summary>The shared secret of <see cref="DashboardAuth.Token"/>; never logged.</summary>
    public string? Token { get; set; }

    /// <summary>How long the login form's session cookie is good for.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "7.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Orleans' own dashboard at <c>/dashboard</c>.</summary>
    public bool OrleansDashboard { get; set; } = true;

    /// <summary>
    /// Whether Orleans' dashboard times grain calls (its grain methods' calls, failures and latency) while it is viewed:
    /// all but the pod grains' and Orleans' system targets' (<see cref="SelectiveGrainProfilerFilter"/>). Off by default,
    /// because the filter that times them sends every grain call of the silo, pod grains' too, through Orleans' filter
    /// pipeline, viewed or not.
    /// </summary>
    public bool ProfileGrainCalls { get; set; }

    /// <summary>
    /// How often Orleans' dashboard refreshes its counters: the silo statistics it keeps while it is viewed, and its
    /// reading of Orleans' meter, which goes on whether or not it is viewed (<see cref="OrleansCounterExport"/>). Each
    /// refresh observes all of a silo's activations.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan OrleansCounterInterval { get; set; } = TimeSpan.FromSeconds(5);

    public TokenReviewOptions TokenReview { get; set; } = new();

    /// <summary>The access rule in force, or null when none is configured and the dashboard is off.</summary>
    public DashboardAuth? EffectiveAuth => Auth ?? (string.IsNullOrEmpty(Token) ? null : DashboardAuth.Token);

    public bool Enabled => EffectiveAuth is not null;
}

/// <summary>
/// <see cref="DashboardAuth.TokenReview"/>: which audiences a token must carry, how long an answer is
/// kept, and the permission a user must hold, checked with a SubjectAccessReview. By default that is
/// <c>list pods</c> in every namespace, since the dashboard shows the pods of every namespace; another
/// can be named (<c>get services/proxy vnodemesh</c> in the silo's namespace, say), and an empty
/// <see cref="Resource"/> lets in everyone the API server authenticates.
/// </summary>
public sealed class TokenReviewOptions
{
    public List<string> Audiences { get; set; } = [];

    /// <summary>Answers of the API server are kept this long per token, so a page's requests cost one review.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    [RegularExpression("^[a-z*]+$")]
    public string Verb { get; set; } = "list";

    public string? Group { get; set; }

    public string? Resource { get; set; } = "pods";

    public string? Subresource { get; set; }

    public string? Namespace { get; set; }

    public string? Name { get; set; }

    public bool ChecksAccess => !string.IsNullOrEmpty(Resource);

    /// <summary>For messages: <c>get services/proxy vnodemesh in namespace vnodemesh-system</c>, <c>list pods in all namespaces</c>.</summary>
    public string Describe() =>
        $"{Verb} {(string.IsNullOrEmpty(Group) ? "" : Group + "/")}{Resource}{(string.IsNullOrEmpty(Subresource) ? "" : "/" + Subresource)}"
        + (string.IsNullOrEmpty(Name) ? "" : $" {Name}") + (string.IsNullOrEmpty(Namespace) ? " in all namespaces" : $" in namespace {Namespace}");
}

/// <summary>Checks that the access rule can work; messages name the setting, never the token's value.</summary>
public sealed class DashboardOptionsValidator(IServiceProvider services) : IValidateOptions<DashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, DashboardOptions options)
    {
        var failures = new List<string>();
        var section = DashboardOptions.Section;
        var hasToken = !string.IsNullOrEmpty(options.Token);
        switch (options.EffectiveAuth)
        {
            case DashboardAuth.Token when !hasToken:
                failures.Add($"{section}:Token is required when {section}:Auth is Token");
                break;
            case DashboardAuth.Token when options.Token!.Length < DashboardOptions.MinimumTokenLength || string.IsNullOrWhiteSpace(options.Token):
                failures.Add($"{section}:Token must be at least {DashboardOptions.MinimumTokenLength} characters");
                break;
            case DashboardAuth.TokenReview or DashboardAuth.None when hasToken:
                failures.Add($"{section}:Token is set but {section}:Auth is {options.Auth}: remove the token or use Auth=Token");
                break;
        }

        if (options.EffectiveAuth == DashboardAuth.TokenReview && services.GetService<KubernetesClients>() is null)
        {
            failures.Add($"{section}:Auth is TokenReview, which needs the Kubernetes API: set {KubernetesOptions.Section}:Kubeconfig or run the silo in a pod");
        }

        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options.TokenReview, new ValidationContext(options.TokenReview), results, validateAllProperties: true))
        {
            failures.AddRange(results.Select(r => $"{section}:TokenReview: {r.ErrorMessage}"));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
