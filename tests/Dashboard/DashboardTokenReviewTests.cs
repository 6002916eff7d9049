using System.Net;
using System.Net.Http.Headers;
using k8s;
using k8s.Models;
using VNodeMesh.Tests.Infrastructure;
using VNodeMesh.Tests.Kubernetes;

namespace VNodeMesh.Tests.Dashboard;

/// <summary>
/// A silo whose dashboard reviews bearer tokens with the real API server, and asks it whether the
/// user may <c>get services/proxy vnodemesh</c> in the test's namespace. Two ServiceAccounts: one
/// with that permission, one without.
/// </summary>
public sealed class TokenReviewFixture : IAsyncLifetime
{
    public const string Service = "vnodemesh";
    public string Node { get; } = KubeApi.Unique("vn-dash");
    public IKubernetes Api { get; } = KubeApi.Client();
    public string Namespace { get; private set; } = "";
    public string ViewerToken { get; private set; } = "";
    public string StrangerToken { get; private set; } = "";
    public DashboardSilo Silo { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Namespace = await Api.CreateNamespaceAsync("dash");
        foreach (var account in new[] { "viewer", "stranger" })
        {
            await Api.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = account } }, Namespace);
        }

        await Api.RbacAuthorizationV1.CreateNamespacedRoleAsync(new V1Role
        {
            Metadata = new V1ObjectMeta { Name = "vnodemesh-dashboard" },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["services/proxy"], ResourceNames = [Service], Verbs = ["get"] }],
        }, Namespace);
        await Api.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
        {
            Metadata = new V1ObjectMeta { Name = "vnodemesh-dashboard" },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = "vnodemesh-dashboard" },
            Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "viewer", NamespaceProperty = Namespace }],
        }, Namespace);
        ViewerToken = await TokenAsync("viewer");
        StrangerToken = await TokenAsync("stranger");

        // RBAC is read from the API server's caches: wait until the binding is in force.
        await KubeApi.WaitUntilAsync(async () => (await Api.AuthorizationV1.CreateSubjectAccessReviewAsync(new V1SubjectAccessReview
        {
            Spec = new V1SubjectAccessReviewSpec
            {
                User = $"system:serviceaccount:{Namespace}:viewer",
                ResourceAttributes = new V1ResourceAttributes { Verb = "get", Resource = "services", Subresource = "proxy", Name = Service, NamespaceProperty = Namespace },
            },
        })).Status.Allowed, TimeSpan.FromSeconds(30), () => "the RoleBinding did not take effect");

        var settings = KubeApi.SiloSettings(KubeApi.KubeconfigPath, Node);
        settings["VNodeMesh:Dashboard:Auth"] = "TokenReview";
        settings["VNodeMesh:Dashboard:OrleansDashboard"] = "false";
        settings["VNodeMesh:Dashboard:TokenReview:Verb"] = "get";
        settings["VNodeMesh:Dashboard:TokenReview:Resource"] = "services";
        settings["VNodeMesh:Dashboard:TokenReview:Subresource"] = "proxy";
        settings["VNodeMesh:Dashboard:TokenReview:Name"] = Service;
        settings["VNodeMesh:Dashboard:TokenReview:Namespace"] = Namespace;
        Silo = await DashboardSilo.StartAsync(settings);
    }

    private async Task<string> TokenAsync(string account) =>
        (await Api.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 3600 } }, account, Namespace)).Status.Token;

    public HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = Silo.Address };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public async Task DisposeAsync()
    {
        if (Silo is not null)
        {
            await Silo.DisposeAsync();
        }

        try
        {
            await Api.CoreV1.DeleteNodeAsync(Node);
        }
        catch (k8s.Autorest.HttpOperationException)
        {
        }

        await Api.DeleteNamespaceAsync(Namespace);
    }
}

/// <summary>Dashboard access checked by the real API server: TokenReview, then SubjectAccessReview.</summary>
[Collection(KubernetesCollection.Name)]
public sealed class DashboardTokenReviewTests(TokenReviewFixture fixture) : IClassFixture<TokenReviewFixture>
{
    [Fact]
    public async Task A_service_account_token_with_the_permission_is_accepted()
    {
        using var client = fixture.Client(fixture.ViewerToken);

        var response = await client.GetAsync("/api/nodes");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(fixture.Node, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_service_account_token_without_the_permission_is_forbidden()
    {
        using var client = fixture.Client(fixture.StrangerToken);

        var response = await client.GetAsync("/api/nodes");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains($"system:serviceaccount:{fixture.Namespace}:stranger may not get services/proxy {TokenReviewFixture.Service}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_bogus_token_or_none_is_refused()
    {
        using var bogus = fixture.Client("eyJhbGciOiJSUzI1NiJ9.bogus.token");
        var refused = await bogus.GetAsync("/api/nodes");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("did not accept the token", await refused.Content.ReadAsStringAsync());

        using var anonymous = fixture.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/nodes")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz/live")).StatusCode);
    }

    [Fact]
    public async Task The_sign_in_form_takes_a_service_account_token_and_refuses_a_bogus_one()
    {
        using var client = fixture.Client();

        var refused = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = "bogus", ["returnUrl"] = "/nodes" }));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.False(refused.Headers.Contains("Set-Cookie"));

        var signedIn = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = fixture.ViewerToken, ["returnUrl"] = "/nodes" }));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/nodes", signedIn.Headers.Location?.OriginalString);
        var cookie = Assert.Single(signedIn.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);

        using var page = new HttpRequestMessage(HttpMethod.Get, "/nodes");
        page.Headers.Add("Cookie", cookie.Split(';')[0]);
        page.Headers.Accept.ParseAdd("text/html");
        var nodes = await client.SendAsync(page);
        Assert.Equal(HttpStatusCode.OK, nodes.StatusCode);
        Assert.Contains($"data-node=\"{fixture.Node}\"", await nodes.Content.ReadAsStringAsync());
    }
}
