using System.Net;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VNodeMesh.Tests.Infrastructure;
using VNodeMesh.Tests.Kubernetes;

namespace VNodeMesh.Tests.Helm;

/// <summary>The chart against the real API server that test.sh starts (Kubernetes 1.20).</summary>
[Collection(KubernetesCollection.Name)]
public sealed class HelmClusterTests : IAsyncLifetime
{
    private const string AccessKeyId = "LTAI5tHelmTestAccessKeyId";
    private const string AccessKeySecret = "helm-test-access-key-secret-never-printed";

    private readonly IKubernetes _api = KubeApi.Client();
    private string _ns = "";

    public async Task InitializeAsync()
    {
        _ns = await _api.CreateNamespaceAsync("helm");
        // As the reference documents have it created for the ack-virtual-node add-on.
        await _api.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "alibaba-addon-secret" },
            StringData = new Dictionary<string, string> { ["access-key-id"] = AccessKeyId, ["access-key-secret"] = AccessKeySecret },
        }, _ns);
    }

    public Task DisposeAsync() => _api.DeleteNamespaceAsync(_ns);

    [Theory]
    [InlineData(nameof(ChartValues.Simulator), ChartValues.Simulator)]
    [InlineData(nameof(ChartValues.Eci), ChartValues.Eci)]
    [InlineData(nameof(ChartValues.ExternalRedis), ChartValues.ExternalRedis)]
    [InlineData(nameof(ChartValues.TokenReview), ChartValues.TokenReview)]
    public async Task The_api_server_accepts_every_rendered_object_in_a_server_side_dry_run(string name, string values)
    {
        // Rendered with the server's own capabilities (and lookups), as an install would be.
        var rendered = await RenderedChart.HelmTemplateAsync(values, "--namespace", _ns, "--dry-run=server", "--kubeconfig", KubeApi.KubeconfigPath);
        rendered.EnsureSuccess($"helm template ({name})");
        Assert.Contains("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget", rendered.Stdout); // 1.20 serves no policy/v1

        var applied = await HelmTools.KubectlAsync(rendered.Stdout,
            "--kubeconfig", KubeApi.KubeconfigPath, "apply", "--server-side", "--dry-run=server", "--field-manager=helm-test", "-f", "-");
        applied.EnsureSuccess($"kubectl apply --server-side --dry-run=server ({name})");
        var objects = rendered.Stdout.Split("\n---", StringSplitOptions.RemoveEmptyEntries).Count(d => d.Contains("\nkind: ", StringComparison.Ordinal));
        Assert.Equal(objects, applied.Stdout.Split('\n').Count(l => l.EndsWith("serverside-applied (server dry run)", StringComparison.Ordinal)));
        Assert.Contains("deployment.apps/vnm-vnodemesh serverside-applied", applied.Stdout);
        Assert.Contains($"clusterrole.rbac.authorization.k8s.io/{_ns}-vnm-vnodemesh serverside-applied", applied.Stdout);
        Assert.Contains($"role.rbac.authorization.k8s.io/{_ns}-vnm-vnodemesh serverside-applied", applied.Stdout);
    }

    [Fact]
    public async Task An_eci_install_never_prints_the_access_key_even_with_the_secret_in_the_cluster()
    {
        var file = Path.Combine(Path.GetTempPath(), $"vnodemesh-values-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, ChartValues.Eci);
        try
        {
            var install = await HelmTools.HelmAsync("install", "vnm", HelmTools.ChartPath, "--namespace", _ns, "--values", file,
                "--dry-run=server", "--kubeconfig", KubeApi.KubeconfigPath);
            install.EnsureSuccess("helm install --dry-run=server");
            Assert.Contains("NOTES:", install.Stdout);
            Assert.Contains("alibaba-addon-secret", install.Stdout);
            foreach (var credential in new[] { AccessKeyId, AccessKeySecret })
            {
                Assert.DoesNotContain(credential, install.Output);
                Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(credential)), install.Output);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// A silo configured as the chart configures it, signed in as the chart's service account with only
    /// the chart's RBAC, registers its virtual node and runs a pod through to deletion.
    /// </summary>
    [Fact]
    public async Task The_chart_rbac_is_enough_for_a_silo_and_no_more()
    {
        var node = KubeApi.Unique("vn-helm");
        var rendered = await RenderedChart.HelmTemplateAsync(
            $"virtualNodes: {{items: [{{name: {node}, zone: cn-hangzhou-h, labels: {{example.com/pool: helm}}}}]}}",
            "--namespace", _ns, "--dry-run=server", "--kubeconfig", KubeApi.KubeconfigPath);
        rendered.EnsureSuccess("helm template");
        var chart = RenderedChart.Parse(rendered.Stdout.Replace("apiVersion: policy/v1beta1", "apiVersion: policy/v1", StringComparison.Ordinal));
        var account = chart.Single<V1ServiceAccount>();
        var clusterRole = chart.ClusterRole;
        var role = chart.Single<V1Role>();
        await _api.CoreV1.CreateNamespacedServiceAccountAsync(account, _ns);
        await _api.RbacAuthorizationV1.CreateClusterRoleAsync(clusterRole);
        await _api.RbacAuthorizationV1.CreateClusterRoleBindingAsync(chart.Single<V1ClusterRoleBinding>());
        await _api.RbacAuthorizationV1.CreateNamespacedRoleAsync(role, role.Namespace());
        await _api.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(chart.Single<V1RoleBinding>(), role.Namespace());
        VNodeMeshTestCluster? cluster = null;
        try
        {
            var kubeconfig = await ServiceAccountKubeconfigAsync(account.Name());
            var settings = chart.SiloSettings();
            foreach (var (key, value) in KubeApi.SiloSettings(kubeconfig))
            {
                settings[key] = value;
            }

            // The chart's Redis is not here: this silo keeps its state in process (the test is about RBAC).
            settings.Remove("VNodeMesh:Profile");
            cluster = await VNodeMeshTestCluster.StartAsync(settings: settings, silos: 1);
            var asSilo = KubeApi.Client(kubeconfig);

            V1Node? registered = null;
            await KubeApi.WaitUntilAsync(async () => (registered = await TryReadNodeAsync(node)) is { } n
                && n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true, TimeSpan.FromSeconds(30),
                () => $"virtual node {node} not Ready");
            Assert.NotNull(registered);
            Assert.Equal("helm", registered.Labels()["example.com/pool"]);
            Assert.Equal("cn-hangzhou-h", registered.Labels()["topology.kubernetes.io/zone"]);
            Assert.Equal(50_000m, registered.Status?.Capacity?["pods"].ToDecimal());
            await KubeApi.WaitUntilAsync(async () => await TryReadLeaseAsync(node) is not null, TimeSpan.FromSeconds(30), () => $"no Lease for {node}");

            var pod = await _api.CreatePodAsync(KubeApi.Pod(_ns, "hello", node));
            await _api.WaitForPodAsync(_ns, "hello", KubeApi.IsRunning, TimeSpan.FromSeconds(30));
            await KubeApi.WaitUntilAsync(async () => (await _api.EventsAsync(_ns, "hello")).Any(e => e.Reason == "ProviderCreateSucceeded"),
                TimeSpan.FromSeconds(30), () => "no ProviderCreateSucceeded Event");
            await _api.CoreV1.DeleteNamespacedPodAsync("hello", _ns);
            await _api.WaitForPodGoneAsync(_ns, "hello", TimeSpan.FromSeconds(30));
            Assert.Equal(1, cluster.Cloud.InstancesCreatedForPod(pod.Metadata.Uid));

            // And no more: the simulator's silo reads no Secret, deletes no Node, writes no other namespace's Lease.
            await AssertForbiddenAsync(() => asSilo.CoreV1.ReadNamespacedSecretAsync("alibaba-addon-secret", _ns));
            await AssertForbiddenAsync(() => asSilo.CoreV1.ListSecretForAllNamespacesAsync());
            await AssertForbiddenAsync(() => asSilo.CoreV1.DeleteNodeAsync(node));
            await AssertForbiddenAsync(() => asSilo.CoordinationV1.ListNamespacedLeaseAsync(_ns));
            await AssertForbiddenAsync(() => asSilo.AppsV1.ListDeploymentForAllNamespacesAsync());
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }

            await IgnoreNotFound(() => _api.CoreV1.DeleteNodeAsync(node));
            await IgnoreNotFound(() => _api.CoordinationV1.DeleteNamespacedLeaseAsync(node, "kube-node-lease"));
            await IgnoreNotFound(() => _api.RbacAuthorizationV1.DeleteClusterRoleBindingAsync(clusterRole.Name()));
            await IgnoreNotFound(() => _api.RbacAuthorizationV1.DeleteClusterRoleAsync(clusterRole.Name()));
            await IgnoreNotFound(() => _api.RbacAuthorizationV1.DeleteNamespacedRoleBindingAsync(role.Name(), role.Namespace()));
            await IgnoreNotFound(() => _api.RbacAuthorizationV1.DeleteNamespacedRoleAsync(role.Name(), role.Namespace()));
        }
    }

    /// <summary>A kubeconfig for the service account: its token (from the token controller), the admin's server and CA.</summary>
    private async Task<string> ServiceAccountKubeconfigAsync(string account)
    {
        string? token = null;
        await KubeApi.WaitUntilAsync(async () =>
        {
            var sa = await _api.CoreV1.ReadNamespacedServiceAccountAsync(account, _ns);
            foreach (var reference in sa.Secrets ?? [])
            {
                var secret = await _api.CoreV1.ReadNamespacedSecretAsync(reference.Name, _ns);
                if (secret.Data?.TryGetValue("token", out var bytes) == true)
                {
                    token = Encoding.UTF8.GetString(bytes);
                }
            }

            return token is not null;
        }, TimeSpan.FromSeconds(30), () => $"no token for service account {account} (the token controller runs with KUBE_LOCAL_COMPONENTS=full)");

        var admin = await KubernetesClientConfiguration.LoadKubeConfigAsync(new FileInfo(KubeApi.KubeconfigPath));
        var context = admin.Contexts.Single(c => c.Name == admin.CurrentContext);
        var server = admin.Clusters.Single(c => c.Name == context.ContextDetails.Cluster).ClusterEndpoint;
        var path = Path.Combine(Path.GetTempPath(), $"vnodemesh-{account}-{Guid.NewGuid():N}.kubeconfig");
        await File.WriteAllTextAsync(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: cluster
              cluster:
                server: {server.Server}
                certificate-authority-data: {server.CertificateAuthorityData}
            users:
            - name: {account}
              user:
                token: {token}
            contexts:
            - name: silo
              context:
                cluster: cluster
                user: {account}
                namespace: {_ns}
            current-context: silo
            """);
        return path;
    }

    private async Task<V1Node?> TryReadNodeAsync(string name)
    {
        try
        {
            return await _api.CoreV1.ReadNodeAsync(name);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<V1Lease?> TryReadLeaseAsync(string name)
    {
        try
        {
            return await _api.CoordinationV1.ReadNamespacedLeaseAsync(name, "kube-node-lease");
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private static async Task AssertForbiddenAsync(Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.Equal(HttpStatusCode.Forbidden, ex.Response.StatusCode);
    }

    private static async Task IgnoreNotFound(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }
}
