using System.Text;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using VNodeMesh.Silo.Hosting;

namespace VNodeMesh.Tests.Helm;

/// <summary>The chart as helm renders it, value set by value set, without a cluster.</summary>
public sealed class HelmTemplateTests
{
    private const string SiloImage = "vnodemesh-silo";

    /// <summary>What the silo does in the API in every configuration (silo/Kubernetes/).</summary>
    private static readonly string[] BaseGrants =
    [
        "/configmaps:get",
        "/events:create", "/events:patch",
        "/namespaces:get", "/namespaces:list",
        "/nodes/status:patch",
        "/nodes:create", "/nodes:get", "/nodes:patch",
        "/pods/status:patch",
        "/pods:delete", "/pods:get", "/pods:list", "/pods:watch",
    ];

    [Fact]
    public async Task Lint_passes_for_every_value_set()
    {
        foreach (var values in new[] { ChartValues.Simulator, ChartValues.Eci, ChartValues.ExternalRedis, ChartValues.TokenReview })
        {
            var file = Path.Combine(Path.GetTempPath(), $"vnodemesh-lint-{Guid.NewGuid():N}.yaml");
            await File.WriteAllTextAsync(file, values);
            try
            {
                var lint = await HelmTools.HelmAsync("lint", HelmTools.ChartPath, "--strict", "--values", file);
                lint.EnsureSuccess("helm lint");
                Assert.Contains("0 chart(s) failed", lint.Stdout);
            }
            finally
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task Default_values_run_two_simulator_silos_on_the_cluster_profile_with_bundled_redis()
    {
        var chart = await RenderedChart.TemplateAsync(ChartValues.Simulator);

        var silo = chart.Silo;
        Assert.Equal(2, silo.Spec.Replicas);
        Assert.Equal("RollingUpdate", silo.Spec.Strategy.Type);
        Assert.Equal("0", silo.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
        Assert.Equal("1", silo.Spec.Strategy.RollingUpdate.MaxSurge.Value);
        Assert.Equal($"{SiloImage}:1.0.0", chart.SiloContainer.Image);
        Assert.Equal(["dotnet", "VNodeMesh.Silo.dll"], chart.SiloContainer.Command);

        Assert.Equal("cluster", chart.Value("VNODEMESH__PROFILE"));
        Assert.Equal("simulator", chart.Value("VNODEMESH__PROVIDER__NAME"));
        Assert.Equal("100", chart.Value("VNODEMESH__PROVIDER__QUOTA__BURST"));
        Assert.Equal("20", chart.Value("VNODEMESH__PROVIDER__QUOTA__PERSECOND"));
        Assert.Equal("vnm-vnodemesh", chart.Value("VNODEMESH__CLUSTER__CLUSTERID"));
        Assert.Equal("vnm-vnodemesh", chart.Value("VNODEMESH__CLUSTER__SERVICEID"));
        Assert.Equal("11111", chart.Value("VNODEMESH__CLUSTER__SILOPORT"));
        Assert.Equal("30000", chart.Value("VNODEMESH__CLUSTER__GATEWAYPORT"));
        Assert.Equal("0.0.0.0", chart.Value("VNODEMESH__HTTP__ADDRESS"));
        Assert.Equal("8080", chart.Value("VNODEMESH__HTTP__PORT"));
        Assert.Equal("true", chart.Value("VNODEMESH__TELEMETRY__PROMETHEUS__ENABLED"));
        Assert.Equal("", chart.Value("VNODEMESH__TELEMETRY__OTLP__ENDPOINT"));
        Assert.Equal("50000", chart.Value("VNODEMESH__VIRTUALNODES__CAPACITY"));
        Assert.Equal("vnodemesh-virtual-node", chart.Value("VNODEMESH__NODES__ITEMS__0__NAME"));
        Assert.DoesNotContain(chart.Env.Keys, k => k.StartsWith("VNODEMESH__ECI__", StringComparison.Ordinal));
        foreach (var address in new[] { "VNODEMESH__CLUSTER__ADVERTISEDADDRESS", "VNODEMESH__KUBERNETES__ADVERTISEADDRESS" })
        {
            Assert.Equal("status.podIP", chart.Env[address].ValueFrom?.FieldRef?.FieldPath);
        }

        // Bundled Redis: its password only through the kubelet's expansion of a Secret reference.
        Assert.Equal("vnm-vnodemesh-redis:6379,password=$(REDIS_PASSWORD),abortConnect=false", chart.Value("VNODEMESH__CLUSTER__REDIS"));
        Assert.Equal(("vnm-vnodemesh-redis", "redis-password"), chart.SecretRef("REDIS_PASSWORD"));
        var redis = chart.Find<V1StatefulSet>("vnm-vnodemesh-redis");
        Assert.NotNull(redis);
        Assert.Equal(1, redis.Spec.Replicas);
        var redisContainer = redis.Spec.Template.Spec.Containers.Single();
        Assert.Equal("redis:7.2", redisContainer.Image);
        Assert.Equal(["--appendonly", "yes", "--dir", "/data", "--requirepass", "$(REDIS_PASSWORD)"], redisContainer.Args);
        var claim = Assert.Single(redis.Spec.VolumeClaimTemplates);
        Assert.Equal("data", claim.Metadata.Name);
        Assert.Equal("2Gi", claim.Spec.Resources.Requests["storage"].ToString());
        Assert.Contains(redisContainer.VolumeMounts, m => m.Name == "data" && m.MountPath == "/data");
        Assert.True(redis.Spec.Template.Spec.SecurityContext.RunAsNonRoot);
        Assert.True(redisContainer.SecurityContext.ReadOnlyRootFilesystem);
        var redisService = chart.Find<V1Service>("vnm-vnodemesh-redis");
        Assert.NotNull(redisService);
        Assert.Equal(6379, Assert.Single(redisService.Spec.Ports).Port);
        Assert.Equal(redis.Spec.Selector.MatchLabels, redisService.Spec.Selector);
        Assert.NotNull(chart.Find<V1Secret>("vnm-vnodemesh-redis"));

        // The dashboard token: generated into a Secret, referred to, never a literal.
        Assert.Equal("Token", chart.Value("VNODEMESH__DASHBOARD__AUTH"));
        Assert.Equal(("vnm-vnodemesh-dashboard", "dashboard-token"), chart.SecretRef("VNODEMESH__DASHBOARD__TOKEN"));
        var token = chart.Find<V1Secret>("vnm-vnodemesh-dashboard");
        Assert.NotNull(token);
        Assert.Equal(40, token.Data["dashboard-token"].Length);
    }

    [Fact]
    public async Task The_silo_pod_is_hardened_probed_and_outlives_its_graceful_shutdown()
    {
        var chart = await RenderedChart.TemplateAsync(ChartValues.Simulator);
        var pod = chart.Silo.Spec.Template.Spec;
        var container = chart.SiloContainer;

        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(1654, pod.SecurityContext.RunAsUser);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        var tmp = Assert.Single(container.VolumeMounts);
        Assert.Equal("/tmp", tmp.MountPath);
        Assert.NotNull(pod.Volumes.Single(v => v.Name == tmp.Name).EmptyDir);
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(container.Resources.Requests["memory"]);
        Assert.NotNull(container.Resources.Limits["memory"]);

        Assert.Equal("/healthz/ready", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("http", container.ReadinessProbe.HttpGet.Port.Value);
        Assert.Equal("/healthz/live", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("http", container.LivenessProbe.HttpGet.Port.Value);
        Assert.Contains(container.Ports, p => p.Name == "http" && p.ContainerPort == 8080);
        Assert.Contains(container.Ports, p => p.Name == "silo" && p.ContainerPort == 11111);
        Assert.Contains(container.Ports, p => p.Name == "gateway" && p.ContainerPort == 30000);

        Assert.Equal("00:00:30", chart.Value("VNODEMESH__CLUSTER__SHUTDOWNTIMEOUT"));
        Assert.Equal(45, pod.TerminationGracePeriodSeconds);
        Assert.Equal(chart.Single<V1ServiceAccount>().Name(), pod.ServiceAccountName);
        Assert.True(pod.AutomountServiceAccountToken);

        var longer = await RenderedChart.TemplateAsync("cluster: {shutdownTimeoutSeconds: 90}");
        Assert.Equal("00:01:30", longer.Value("VNODEMESH__CLUSTER__SHUTDOWNTIMEOUT"));
        Assert.Equal(105, longer.Silo.Spec.Template.Spec.TerminationGracePeriodSeconds);

        var tooShort = await RenderedChart.HelmTemplateAsync("cluster: {shutdownTimeoutSeconds: 60, terminationGracePeriodSeconds: 60}");
        Assert.NotEqual(0, tooShort.ExitCode);
        Assert.Contains("cluster.terminationGracePeriodSeconds (60) must be longer than cluster.shutdownTimeoutSeconds (60)", tooShort.Stderr);

        var service = chart.Find<V1Service>("vnm-vnodemesh");
        Assert.NotNull(service);
        Assert.Equal("http", Assert.Single(service.Spec.Ports).TargetPort.Value);
        Assert.Equal(chart.Silo.Spec.Selector.MatchLabels, service.Spec.Selector);

        // policy/v1 where helm knows no cluster; the API server tests cover policy/v1beta1 on 1.20.
        var budget = chart.Single<V1PodDisruptionBudget>();
        Assert.Equal("1", budget.Spec.MaxUnavailable.Value);
        Assert.Equal(chart.Silo.Spec.Selector.MatchLabels, budget.Spec.Selector.MatchLabels);
    }

    [Fact]
    public async Task Eci_values_carry_region_vswitches_and_nodes_and_take_the_access_key_from_alibaba_addon_secret()
    {
        var chart = await RenderedChart.TemplateAsync(ChartValues.Eci);

        Assert.Equal("eci", chart.Value("VNODEMESH__PROVIDER__NAME"));
        Assert.Equal("300", chart.Value("VNODEMESH__PROVIDER__QUOTA__BURST"));
        Assert.Equal("50", chart.Value("VNODEMESH__PROVIDER__QUOTA__PERSECOND"));
        Assert.Equal("cn-hangzhou", chart.Value("VNODEMESH__ECI__REGION"));
        Assert.Equal("true", chart.Value("VNODEMESH__ECI__USEVPCENDPOINT"));
        Assert.Equal("vsw-default1", chart.Value("VNODEMESH__ECI__VSWITCHES__0"));
        Assert.Equal("vsw-default2", chart.Value("VNODEMESH__ECI__VSWITCHES__1"));
        Assert.Equal("sg-default", chart.Value("VNODEMESH__ECI__SECURITYGROUP"));
        Assert.Equal(("alibaba-addon-secret", "access-key-id"), chart.SecretRef("VNODEMESH__ECI__ACCESSKEYID"));
        Assert.Equal(("alibaba-addon-secret", "access-key-secret"), chart.SecretRef("VNODEMESH__ECI__ACCESSKEYSECRET"));

        var settings = chart.SiloSettings();
        Assert.Equal("20000", settings["VNodeMesh:VirtualNodes:Capacity"]);
        Assert.Equal("vn-hangzhou-h", settings["VNodeMesh:Nodes:Items:0:Name"]);
        Assert.Equal("cn-hangzhou", settings["VNodeMesh:Nodes:Items:0:Region"]);
        Assert.Equal("cn-hangzhou-h", settings["VNodeMesh:Nodes:Items:0:Zone"]);
        Assert.Equal("vsw-zoneh1", settings["VNodeMesh:Nodes:Items:0:VSwitches:0"]);
        Assert.Equal("vsw-zoneh2", settings["VNodeMesh:Nodes:Items:0:VSwitches:1"]);
        Assert.Equal("sg-zoneh", settings["VNodeMesh:Nodes:Items:0:SecurityGroup"]);
        Assert.Equal("burst", settings["VNodeMesh:Nodes:Items:0:Labels:team"]);
        Assert.Equal("eci", settings["VNodeMesh:Nodes:Items:0:Labels:example.com/pool"]);
        Assert.Equal("example.com/dedicated", settings["VNodeMesh:Nodes:Items:0:Taints:0:Key"]);
        Assert.Equal("burst", settings["VNodeMesh:Nodes:Items:0:Taints:0:Value"]);
        Assert.Equal("NoExecute", settings["VNodeMesh:Nodes:Items:0:Taints:0:Effect"]);
        Assert.Equal("vn-hangzhou-i", settings["VNodeMesh:Nodes:Items:1:Name"]);
        Assert.Equal("cn-hangzhou-i", settings["VNodeMesh:Nodes:Items:1:Zone"]);
        Assert.False(settings.ContainsKey("VNodeMesh:Nodes:Items:1:Region"));

        // The silo gets exactly the settings the chart means, as its own options read them.
        var nodes = new ConfigurationBuilder().AddInMemoryCollection(settings).Build()
            .GetSection(NodesOptions.Section).Get<NodesOptions>()!;
        Assert.Equal(["vn-hangzhou-h", "vn-hangzhou-i"], nodes.Items.Select(n => n.Name));
        Assert.Equal(["vsw-zoneh1", "vsw-zoneh2"], nodes.Items[0].VSwitches);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "burst", ["example.com/pool"] = "eci" }, nodes.Items[0].Labels);
        Assert.Equal("NoExecute", Assert.Single(nodes.Items[0].Taints).Effect);

        // ECI resolves the Secrets pods refer to, so (only) it may read Secrets.
        Assert.Equal(BaseGrants.Append("/secrets:get").Order(StringComparer.Ordinal), RenderedChart.Grants(chart.ClusterRole.Rules));
        var refused = await RenderedChart.TemplateAsync(ChartValues.Eci + "\nrbac: {eciPodSecrets: false}");
        Assert.Equal(BaseGrants, RenderedChart.Grants(refused.ClusterRole.Rules));
    }

    [Fact]
    public async Task No_credential_is_ever_a_value_of_the_chart()
    {
        const string secret = "LTAI-not-a-real-access-key-secret";
        foreach (var values in new[] { ChartValues.Simulator, ChartValues.Eci, ChartValues.ExternalRedis, ChartValues.TokenReview })
        {
            var chart = await RenderedChart.TemplateAsync(values);

            // Every environment variable that carries a credential comes from a Secret reference.
            foreach (var name in new[] { "VNODEMESH__ECI__ACCESSKEYID", "VNODEMESH__ECI__ACCESSKEYSECRET", "VNODEMESH__DASHBOARD__TOKEN", "REDIS_PASSWORD" })
            {
                if (chart.Env.TryGetValue(name, out var env))
                {
                    Assert.Null(env.Value);
                    Assert.NotNull(env.ValueFrom.SecretKeyRef);
                }
            }

            Assert.DoesNotMatch("password=(?!\\$\\(REDIS_PASSWORD\\))", chart.Value("VNODEMESH__CLUSTER__REDIS"));
            Assert.Empty(chart.All<V1ConfigMap>());
            // The only Secrets the chart makes are the generated Redis password and dashboard token.
            Assert.All(chart.All<V1Secret>(), s => Assert.Contains(s.Name(), new[] { "vnm-vnodemesh-redis", "vnm-vnodemesh-dashboard" }));
        }

        // There is no value for a credential: helm refuses it, naming it, and prints nothing of it.
        foreach (var set in new[] { $"eci.accessKeySecret={secret}", $"eci.credentials.accessKeySecret={secret}", $"dashboard.token.value={secret}", $"redis.auth.password={secret}" })
        {
            var refused = await RenderedChart.HelmTemplateAsync(ChartValues.Eci, "--set", set);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("additional properties", refused.Stderr);
            Assert.Contains(set.Split('=')[0].Split('.')[^1], refused.Stderr);
            Assert.DoesNotContain(secret, refused.Output);
        }

        // Brought-in Secrets: nothing generated, nothing inlined.
        var external = await RenderedChart.TemplateAsync(ChartValues.ExternalRedis);
        Assert.Empty(external.All<V1Secret>());
    }

    [Fact]
    public async Task External_redis_replaces_the_bundled_one()
    {
        var chart = await RenderedChart.TemplateAsync(ChartValues.ExternalRedis);

        Assert.Empty(chart.All<V1StatefulSet>());
        Assert.DoesNotContain(chart.All<V1Service>(), s => s.Name().Contains("redis", StringComparison.Ordinal));
        Assert.Equal("redis.data.svc:6380,password=$(REDIS_PASSWORD),ssl=true,abortConnect=false", chart.Value("VNODEMESH__CLUSTER__REDIS"));
        Assert.Equal(("shared-redis", "password"), chart.SecretRef("REDIS_PASSWORD"));
        Assert.Equal(("ops-dashboard", "token"), chart.SecretRef("VNODEMESH__DASHBOARD__TOKEN"));

        // Without a password Secret the address stands alone.
        var open = await RenderedChart.TemplateAsync("redis: {external: {address: 10.0.0.5:6379}}");
        Assert.Equal("10.0.0.5:6379,abortConnect=false", open.Value("VNODEMESH__CLUSTER__REDIS"));
        Assert.False(open.Env.ContainsKey("REDIS_PASSWORD"));
    }

    [Fact]
    public async Task Rbac_is_exactly_what_the_bridge_uses_and_token_review_adds_only_its_two_creates()
    {
        var chart = await RenderedChart.TemplateAsync(ChartValues.Simulator);
        Assert.Equal(BaseGrants, RenderedChart.Grants(chart.ClusterRole.Rules));

        var binding = chart.Single<V1ClusterRoleBinding>();
        Assert.Equal(chart.ClusterRole.Name(), binding.RoleRef.Name);
        Assert.Equal("vnodemesh-test-vnm-vnodemesh", binding.RoleRef.Name);
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", "vnm-vnodemesh", "vnodemesh-test"), (subject.Kind, subject.Name, subject.NamespaceProperty));

        // Leases only in kube-node-lease, through a Role there.
        var role = chart.Single<V1Role>();
        Assert.Equal("kube-node-lease", role.Namespace());
        Assert.Equal(["coordination.k8s.io/leases:create", "coordination.k8s.io/leases:patch"], RenderedChart.Grants(role.Rules));
        var roleBinding = chart.Single<V1RoleBinding>();
        Assert.Equal(("kube-node-lease", role.Name()), (roleBinding.Namespace(), roleBinding.RoleRef.Name));
        Assert.Equal("vnm-vnodemesh", Assert.Single(roleBinding.Subjects).Name);

        var review = await RenderedChart.TemplateAsync(ChartValues.TokenReview);
        Assert.Equal("TokenReview", review.Value("VNODEMESH__DASHBOARD__AUTH"));
        Assert.False(review.Env.ContainsKey("VNODEMESH__DASHBOARD__TOKEN"));
        Assert.DoesNotContain(review.All<V1Secret>(), s => s.Name().EndsWith("-dashboard", StringComparison.Ordinal));
        Assert.Equal(
            BaseGrants.Concat(["authentication.k8s.io/tokenreviews:create", "authorization.k8s.io/subjectaccessreviews:create"]).Order(StringComparer.Ordinal),
            RenderedChart.Grants(review.ClusterRole.Rules));

        var none = await RenderedChart.TemplateAsync("rbac: {create: false}");
        Assert.Empty(none.All<V1ClusterRole>());
        Assert.Empty(none.All<V1Role>());
    }

    [Theory]
    [InlineData("provider: {name: aws}", "/provider/name", "'simulator', 'eci'")]
    [InlineData("replicaCount: 0", "/replicaCount", "minimum")]
    [InlineData("dashboard: {auth: Basic}", "/dashboard/auth", "'Token', 'TokenReview', 'None'")]
    [InlineData("virtualNodes: {items: [{name: Not_A_Node}]}", "/virtualNodes/items/0/name", "does not match pattern")]
    [InlineData("virtualNodes: {items: [{name: vn, taints: [{key: a, effect: Sometimes}]}]}", "/virtualNodes/items/0/taints/0/effect", "must be one of")]
    [InlineData("eci: {vSwitches: [subnet-1]}", "/eci/vSwitches/0", "does not match pattern")]
    [InlineData("provider: {name: eci}", "/eci/region", "minLength")]
    [InlineData("redis: {external: {address: redis-without-port}}", "/redis/external/address", "does not match pattern")]
    [InlineData("cluster: {siloPort: 70000}", "/cluster/siloPort", "maximum")]
    [InlineData("replicas: 3", "additional properties 'replicas' not allowed", "")]
    public async Task Invalid_values_are_refused_by_the_schema_naming_the_field(string values, string field, string reason)
    {
        var result = await RenderedChart.HelmTemplateAsync(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(field, result.Stderr);
        Assert.Contains(reason, result.Stderr);
        Assert.DoesNotContain("kind: Deployment", result.Stdout);
    }

    [Theory]
    [InlineData("virtualNodes: {items: [{name: vn-a}]}", "virtualNodes.items[0] (vn-a) has no vSwitch: set virtualNodes.items[0].vSwitches or eci.vSwitches")]
    [InlineData("virtualNodes: {items: [{name: vn-a, vSwitches: [vsw-a]}]}", "virtualNodes.items[0] (vn-a) has no security group: set virtualNodes.items[0].securityGroup or eci.securityGroup")]
    [InlineData("virtualNodes: {items: [{name: vn-a, region: cn-beijing, vSwitches: [vsw-a], securityGroup: sg-a}]}", "virtualNodes.items[0].region \"cn-beijing\" differs from eci.region \"cn-hangzhou\"")]
    public async Task Eci_placement_the_schema_cannot_express_is_refused_by_the_templates(string nodes, string message)
    {
        var result = await RenderedChart.HelmTemplateAsync("provider: {name: eci}\neci: {region: cn-hangzhou}\n" + nodes);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public async Task Two_virtual_nodes_of_one_name_are_refused()
    {
        var result = await RenderedChart.HelmTemplateAsync("virtualNodes: {items: [{name: vn-a}, {name: vn-a}]}");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("virtualNodes.items[1].name: \"vn-a\" is used by more than one virtual node", result.Stderr);
    }

    [Fact]
    public async Task Generated_secrets_are_base64_of_printable_text()
    {
        var chart = await RenderedChart.TemplateAsync(ChartValues.Simulator);
        foreach (var secret in chart.All<V1Secret>())
        {
            var value = Assert.Single(secret.Data).Value;
            Assert.Matches("^[A-Za-z0-9]{40}$", Encoding.UTF8.GetString(value));
        }
    }
}
