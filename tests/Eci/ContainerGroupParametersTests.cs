using System.Text;
using k8s.Models;
using VNodeMesh.Silo.Providers.Eci;

namespace VNodeMesh.Tests.Eci;

public sealed class ContainerGroupParametersTests
{
    private const string Uid = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    private static readonly EciPlacement Placement = new("cn-hangzhou", ["vsw-a", "vsw-b"], "sg-node");

    private static readonly Dictionary<string, string> NodeTags = new()
    {
        [ContainerGroupTags.PodUid] = Uid,
        [ContainerGroupTags.Cluster] = "c1",
        [ContainerGroupTags.Namespace] = "shop",
        [ContainerGroupTags.Node] = "vnode-1",
        [ContainerGroupTags.PodName] = "web",
    };

    [Fact]
    public async Task Identity_comes_first_from_the_request_placement_and_pod()
    {
        var parameters = await Build(Pod());

        Assert.Equal(
            [
                new("RegionId", "cn-hangzhou"),
                new("ContainerGroupName", "shop-web"),
                new("ClientToken", Uid),
                new("RestartPolicy", "Always"),
            ],
            parameters.Take(4));
        Assert.Equal(parameters.Count, parameters.Select(p => p.Key).Distinct().Count());
    }

    [Fact]
    public async Task The_same_pod_gives_the_same_parameters_in_the_same_order()
    {
        var references = References();
        var pod = Pod(configure: p =>
        {
            p.Spec.Volumes = [new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = "settings" } }];
            p.Spec.Containers[0].EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "settings" } }];
        });

        Assert.Equal(await Build(pod, references: references), await Build(pod, references: references));
    }

    [Theory]
    [InlineData("OnFailure")]
    [InlineData("Never")]
    [InlineData("Always")]
    public async Task Restart_policy_comes_from_the_pod(string policy)
    {
        var parameters = await Build(Pod(configure: p => p.Spec.RestartPolicy = policy));
        Assert.Equal(policy, Value(parameters, "RestartPolicy"));
    }

    [Fact]
    public async Task An_unknown_restart_policy_is_refused_naming_it()
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(configure: p => p.Spec.RestartPolicy = "Sometimes")));
        Assert.Equal("InvalidParameter.RestartPolicy", error.Error.Code);
        Assert.Contains("spec.restartPolicy", error.Error.Message);
        Assert.Contains("'Sometimes'", error.Error.Message);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("a-1")]
    [InlineData("0-shop-web-9")]
    public async Task Valid_container_group_names_are_kept(string name)
    {
        Assert.Equal(name, Value(await Build(Pod(), name: name), "ContainerGroupName"));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("-shop")]
    [InlineData("shop-")]
    [InlineData("Shop-web")]
    [InlineData("shop_web")]
    [InlineData("shop.web")]
    [InlineData("")]
    public async Task Invalid_container_group_names_are_refused_naming_the_value(string name)
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(), name: name));
        Assert.Equal("InvalidParameter.ContainerGroupName", error.Error.Code);
        Assert.Contains($"'{name}'", error.Error.Message);
    }

    [Fact]
    public async Task Container_group_names_are_at_most_128_characters()
    {
        Assert.Equal(new string('a', 128), Value(await Build(Pod(), name: new string('a', 128)), "ContainerGroupName"));
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(), name: new string('a', 129)));
        Assert.Equal("InvalidParameter.ContainerGroupName", error.Error.Code);
    }

    [Fact]
    public async Task An_instance_type_spec_asks_for_that_type_only()
    {
        var parameters = await Build(Pod(configure: Sized("2", "4Gi")), spec: Spec("ecs.c6.xlarge"));

        Assert.Equal("ecs.c6.xlarge", Value(parameters, "InstanceType"));
        Assert.DoesNotContain("Cpu", Keys(parameters));
        Assert.DoesNotContain("Memory", Keys(parameters));
    }

    [Theory]
    [InlineData("2-4Gi", "2.0", "4.0")]
    [InlineData("0.5-1Gi", "0.5", "1.0")]
    [InlineData("0.25-0.5Gi", "0.25", "0.5")]
    public async Task A_cpu_memory_spec_sizes_the_group(string spec, string cpu, string memory)
    {
        var parameters = await Build(Pod(configure: Sized("8", "16Gi")), spec: Spec(spec));

        Assert.Equal(cpu, Value(parameters, "Cpu"));
        Assert.Equal(memory, Value(parameters, "Memory"));
        Assert.DoesNotContain("InstanceType", Keys(parameters));
    }

    [Fact]
    public async Task Without_a_spec_the_group_is_the_sum_of_the_container_limits()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.Containers[0].Resources = Resources(limits: ("500m", "512Mi"), requests: ("250m", "256Mi"));
            p.Spec.Containers.Add(new V1Container { Name = "sidecar", Image = "sidecar:1", Resources = Resources(limits: ("1", "1Gi")) });
        });

        var parameters = await Build(pod);

        Assert.Equal([new("Cpu", "1.5"), new("Memory", "1.5")], Group(parameters, "Cpu", "Memory"));
        Assert.Equal([new("Container.1.Cpu", "0.5"), new("Container.1.Memory", "0.5")], Group(parameters, "Container.1.Cpu", "Container.1.Memory"));
        Assert.Equal([new("Container.2.Cpu", "1.0"), new("Container.2.Memory", "1.0")], Group(parameters, "Container.2.Cpu", "Container.2.Memory"));
    }

    [Fact]
    public async Task Without_limits_the_requests_size_the_group_and_containers()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.Containers[0].Resources = Resources(requests: ("250m", "256Mi"));
            p.Spec.Containers.Add(new V1Container { Name = "sidecar", Image = "sidecar:1", Resources = Resources(requests: ("2", "3Gi")) });
        });

        var parameters = await Build(pod);

        Assert.Equal([new("Cpu", "2.25"), new("Memory", "3.25")], Group(parameters, "Cpu", "Memory"));
        Assert.Equal("0.25", Value(parameters, "Container.1.Cpu"));
        Assert.Equal("0.25", Value(parameters, "Container.1.Memory"));
    }

    [Fact]
    public async Task Without_a_spec_or_resources_no_size_is_sent()
    {
        var keys = Keys(await Build(Pod()));

        Assert.DoesNotContain("Cpu", keys);
        Assert.DoesNotContain("Memory", keys);
        Assert.DoesNotContain("InstanceType", keys);
        Assert.DoesNotContain("Container.1.Cpu", keys);
        Assert.DoesNotContain("Container.1.Memory", keys);
    }

    [Fact]
    public async Task Placement_gives_the_vswitches_and_security_group()
    {
        var parameters = await Build(Pod());

        Assert.Equal([new("VSwitchId", "vsw-a,vsw-b"), new("SecurityGroupId", "sg-node")], Group(parameters, "VSwitchId", "ScheduleStrategy", "SecurityGroupId"));
    }

    [Fact]
    public async Task Network_annotations_override_the_placement()
    {
        var parameters = await Build(Pod(new()
        {
            ["k8s.aliyun.com/eci-vswitch"] = "vsw-x, vsw-y",
            ["k8s.aliyun.com/eci-schedule-strategy"] = "VSwitchRandom",
            ["k8s.aliyun.com/eci-security-group"] = "sg-pod",
        }));

        Assert.Equal(
            [new("VSwitchId", "vsw-x,vsw-y"), new("ScheduleStrategy", "VSwitchRandom"), new("SecurityGroupId", "sg-pod")],
            Group(parameters, "VSwitchId", "ScheduleStrategy", "SecurityGroupId"));
    }

    [Fact]
    public async Task Schedule_strategy_is_spelled_as_the_api_wants_whatever_the_case()
    {
        // The product's own examples write vSwitchOrdered.
        var parameters = await Build(Pod(new() { ["k8s.aliyun.com/eci-schedule-strategy"] = "vSwitchOrdered" }));
        Assert.Equal("VSwitchOrdered", Value(parameters, "ScheduleStrategy"));
    }

    [Fact]
    public async Task A_placement_without_security_group_or_vswitches_sends_neither()
    {
        var keys = Keys(await Build(Pod(), placement: new EciPlacement("cn-beijing", [], null)));

        Assert.DoesNotContain("VSwitchId", keys);
        Assert.DoesNotContain("SecurityGroupId", keys);
    }

    [Fact]
    public async Task Tags_are_the_request_tags_in_key_order_then_the_simulator_annotations()
    {
        var parameters = await Build(Pod(new()
        {
            ["sim.vnodemesh.io/run-seconds"] = "30",
            ["sim.vnodemesh.io/exit-code"] = "1",
            ["k8s.aliyun.com/eci-auto-imc"] = "false",
            ["team"] = "payments",
        }));

        Assert.Equal(
            [
                new("Tag.1.Key", "vnodemesh.io/cluster"), new("Tag.1.Value", "c1"),
                new("Tag.2.Key", "vnodemesh.io/namespace"), new("Tag.2.Value", "shop"),
                new("Tag.3.Key", "vnodemesh.io/node"), new("Tag.3.Value", "vnode-1"),
                new("Tag.4.Key", "vnodemesh.io/pod-name"), new("Tag.4.Value", "web"),
                new("Tag.5.Key", "vnodemesh.io/pod-uid"), new("Tag.5.Value", Uid),
                new("Tag.6.Key", "sim.vnodemesh.io/exit-code"), new("Tag.6.Value", "1"),
                new("Tag.7.Key", "sim.vnodemesh.io/run-seconds"), new("Tag.7.Value", "30"),
            ],
            Prefixed(parameters, "Tag."));
    }

    [Fact]
    public async Task Twenty_tags_are_sent_and_more_are_refused()
    {
        var fifteen = Enumerable.Range(1, 15).ToDictionary(i => $"sim.vnodemesh.io/t{i:00}", i => "x");
        Assert.Equal(40, Prefixed(await Build(Pod(fifteen)), "Tag.").Count);

        var sixteen = Enumerable.Range(1, 16).ToDictionary(i => $"sim.vnodemesh.io/t{i:00}", i => "x");
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(sixteen)));
        Assert.Equal("InvalidParameter.Tag", error.Error.Code);
        Assert.Contains("21", error.Error.Message);
        Assert.Contains("sim.vnodemesh.io/", error.Error.Message);
    }

    [Fact]
    public async Task Containers_and_init_containers_carry_the_same_fields()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.InitContainers = [new V1Container { Name = "migrate", Image = "tools:2", Command = ["/bin/migrate"], Args = ["--once"], WorkingDir = "/work", ImagePullPolicy = "Always" }];
            p.Spec.Containers[0].Command = ["/bin/sh", "-c"];
            p.Spec.Containers[0].Args = ["serve", "--port=8080"];
            p.Spec.Containers[0].WorkingDir = "/srv";
            p.Spec.Containers[0].ImagePullPolicy = "IfNotPresent";
            p.Spec.Containers.Add(new V1Container { Name = "sidecar", Image = "sidecar:1" });
        });

        var parameters = await Build(pod);

        Assert.Equal(
            [
                new("InitContainer.1.Name", "migrate"), new("InitContainer.1.Image", "tools:2"),
                new("InitContainer.1.ImagePullPolicy", "Always"), new("InitContainer.1.WorkingDir", "/work"),
                new("InitContainer.1.Command.1", "/bin/migrate"), new("InitContainer.1.Arg.1", "--once"),
            ],
            Prefixed(parameters, "InitContainer."));
        Assert.Equal(
            [
                new("Container.1.Name", "app"), new("Container.1.Image", "registry.local/app:1"),
                new("Container.1.ImagePullPolicy", "IfNotPresent"), new("Container.1.WorkingDir", "/srv"),
                new("Container.1.Command.1", "/bin/sh"), new("Container.1.Command.2", "-c"),
                new("Container.1.Arg.1", "serve"), new("Container.1.Arg.2", "--port=8080"),
            ],
            Prefixed(parameters, "Container.1."));
        Assert.Equal([new("Container.2.Name", "sidecar"), new("Container.2.Image", "sidecar:1")], Prefixed(parameters, "Container.2."));
    }

    [Fact]
    public async Task Init_containers_resolve_env_probes_and_mounts_like_containers()
    {
        var pod = Pod(configure: p => p.Spec.InitContainers =
        [
            new V1Container
            {
                Name = "init", Image = "init:1",
                Env = [new V1EnvVar { Name = "POD", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } }],
                VolumeMounts = [new V1VolumeMount { Name = "data", MountPath = "/data" }],
                Resources = Resources(limits: ("1", "2Gi")),
            },
        ]);

        var parameters = await Build(pod);

        Assert.Equal(
            [
                new("InitContainer.1.Name", "init"), new("InitContainer.1.Image", "init:1"),
                new("InitContainer.1.Cpu", "1.0"), new("InitContainer.1.Memory", "2.0"),
                new("InitContainer.1.VolumeMount.1.Name", "data"), new("InitContainer.1.VolumeMount.1.MountPath", "/data"),
                new("InitContainer.1.EnvironmentVar.1.Key", "POD"), new("InitContainer.1.EnvironmentVar.1.Value", "web"),
            ],
            Prefixed(parameters, "InitContainer."));
        Assert.DoesNotContain("Cpu", Keys(parameters)); // init containers do not add to the group's size
    }

    [Fact]
    public async Task Env_literals_and_downward_api_fields_become_values()
    {
        var pod = Pod(configure: p =>
        {
            p.Metadata.Labels = new Dictionary<string, string> { ["app"] = "web" };
            p.Metadata.Annotations = new Dictionary<string, string> { ["owner"] = "team-a" };
            p.Spec.NodeName = "vnode-1";
            p.Spec.ServiceAccountName = "web-sa";
            p.Spec.Containers[0].Env =
            [
                new V1EnvVar { Name = "MODE", Value = "production" },
                new V1EnvVar { Name = "EMPTY" },
                Field("POD_NAME", "metadata.name"),
                Field("POD_NAMESPACE", "metadata.namespace"),
                Field("POD_UID", "metadata.uid"),
                Field("APP", "metadata.labels['app']"),
                Field("MISSING_LABEL", "metadata.labels['tier']"),
                Field("OWNER", "metadata.annotations['owner']"),
                Field("NODE", "spec.nodeName"),
                Field("SA", "spec.serviceAccountName"),
                Field("POD_IP", "status.podIP"),
                Field("POD_IPS", "status.podIPs"),
            ];
        });

        var parameters = await Build(pod);

        Assert.Equal(
            Env(
                ("MODE", "production"), ("EMPTY", ""), ("POD_NAME", "web"), ("POD_NAMESPACE", "shop"), ("POD_UID", Uid),
                ("APP", "web"), ("MISSING_LABEL", ""), ("OWNER", "team-a"), ("NODE", "vnode-1"), ("SA", "web-sa"),
                ("POD_IP", null), ("POD_IPS", null)),
            Prefixed(parameters, "Container.1.EnvironmentVar."));
    }

    [Fact]
    public async Task Env_from_config_map_and_secret_keys_is_resolved_and_optional_misses_are_skipped()
    {
        var pod = Pod(configure: p => p.Spec.Containers[0].Env =
        [
            new V1EnvVar { Name = "LEVEL", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "settings", Key = "log-level" } } },
            new V1EnvVar { Name = "PASSWORD", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "db", Key = "password" } } },
            new V1EnvVar { Name = "NO_MAP", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "absent", Key = "k", Optional = true } } },
            new V1EnvVar { Name = "NO_KEY", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "db", Key = "absent", Optional = true } } },
        ]);

        var parameters = await Build(pod, references: References());

        Assert.Equal(Env(("LEVEL", "debug"), ("PASSWORD", "s3cret")), Prefixed(parameters, "Container.1.EnvironmentVar."));
    }

    [Theory]
    [InlineData("configMap", "absent", "k", "ConfigMap 'shop/absent' not found")]
    [InlineData("configMap", "settings", "absent", "key 'absent' not found in ConfigMap 'shop/settings'")]
    [InlineData("secret", "absent", "k", "Secret 'shop/absent' not found")]
    [InlineData("secret", "db", "absent", "key 'absent' not found in Secret 'shop/db'")]
    public async Task A_missing_required_env_reference_is_a_retryable_config_error(string kind, string name, string key, string problem)
    {
        var source = kind == "configMap"
            ? new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = name, Key = key } }
            : new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = name, Key = key } };
        var pod = Pod(configure: p => p.Spec.Containers[0].Env = [new V1EnvVar { Name = "NEEDED", ValueFrom = source }]);

        var error = await Assert.ThrowsAsync<TransientProviderException>(() => Build(pod, references: References()));

        Assert.Equal("CreateContainerConfigError", error.Error.Code);
        Assert.True(error.Error.IsRetryable);
        Assert.Contains("env var 'NEEDED'", error.Error.Message);
        Assert.Contains("container 'app'", error.Error.Message);
        Assert.Contains(problem, error.Error.Message);
    }

    [Fact]
    public async Task Env_from_expands_config_maps_and_secrets_with_their_prefix_and_env_wins()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.Containers[0].EnvFrom =
            [
                new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "settings" } },
                new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = "db" }, Prefix = "DB_" },
                new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "absent", Optional = true } },
            ];
            p.Spec.Containers[0].Env = [new V1EnvVar { Name = "log-level", Value = "info" }, new V1EnvVar { Name = "EXTRA", Value = "1" }];
        });

        var parameters = await Build(pod, references: References());

        // "bad key" is not a variable name: kubelet leaves it out as well.
        Assert.Equal(
            Env(("log-level", "info"), ("region", "cn-hangzhou"), ("DB_password", "s3cret"), ("DB_user", "shop"), ("EXTRA", "1")),
            Prefixed(parameters, "Container.1.EnvironmentVar."));
    }

    [Fact]
    public async Task Env_from_a_missing_required_object_is_a_retryable_config_error()
    {
        var pod = Pod(configure: p => p.Spec.Containers[0].EnvFrom = [new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = "absent" } }]);

        var error = await Assert.ThrowsAsync<TransientProviderException>(() => Build(pod, references: References()));

        Assert.Equal("CreateContainerConfigError", error.Error.Code);
        Assert.Contains("spec.containers[0] (container 'app').envFrom[0]", error.Error.Message);
        Assert.Contains("Secret 'shop/absent' not found", error.Error.Message);
    }

    [Fact]
    public async Task Without_kubernetes_every_reference_is_missing()
    {
        var pod = Pod(configure: p => p.Spec.Containers[0].Env =
            [new V1EnvVar { Name = "LEVEL", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "settings", Key = "log-level" } } }]);

        var error = await Assert.ThrowsAsync<TransientProviderException>(() => Build(pod, references: new NoPodReferences()));
        Assert.Contains("ConfigMap 'shop/settings' not found", error.Error.Message);
        Assert.Null(await new NoPodReferences().GetSecretAsync("shop", "db", CancellationToken.None));
    }

    [Fact]
    public async Task Resource_field_refs_are_computed_as_kubelet_does()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.Containers[0].Resources = Resources(limits: ("1500m", "1Gi"), requests: ("250m", "300Mi"));
            p.Spec.Containers[0].Env =
            [
                Resource("CPU_LIMIT", "limits.cpu"),
                Resource("CPU_LIMIT_MILLIS", "limits.cpu", divisor: "1m"),
                Resource("CPU_REQUEST", "requests.cpu"),
                Resource("MEMORY_LIMIT", "limits.memory"),
                Resource("MEMORY_LIMIT_MI", "limits.memory", divisor: "1Mi"),
                Resource("MEMORY_REQUEST_GI", "requests.memory", divisor: "1Gi"),
                Resource("SIDECAR_CPU", "requests.cpu", container: "sidecar", divisor: "1m"),
            ];
            p.Spec.Containers.Add(new V1Container { Name = "sidecar", Image = "sidecar:1", Resources = Resources(requests: ("100m", "64Mi")) });
        });

        var parameters = await Build(pod);

        Assert.Equal(
            Env(
                ("CPU_LIMIT", "2"), ("CPU_LIMIT_MILLIS", "1500"), ("CPU_REQUEST", "1"), ("MEMORY_LIMIT", "1073741824"),
                ("MEMORY_LIMIT_MI", "1024"), ("MEMORY_REQUEST_GI", "1"), ("SIDECAR_CPU", "100")),
            Prefixed(parameters, "Container.1.EnvironmentVar."));
    }

    [Fact]
    public async Task A_missing_limit_is_the_instance_size_else_the_request()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.Containers[0].Resources = Resources(requests: ("500m", "512Mi"));
            p.Spec.Containers[0].Env = [Resource("CPU", "limits.cpu", divisor: "1m"), Resource("MEMORY", "limits.memory", divisor: "1Mi")];
        });

        Assert.Equal(Env(("CPU", "2000"), ("MEMORY", "4096")), Prefixed(await Build(pod, spec: Spec("2-4Gi")), "Container.1.EnvironmentVar."));
        Assert.Equal(Env(("CPU", "500"), ("MEMORY", "512")), Prefixed(await Build(pod), "Container.1.EnvironmentVar."));
    }

    [Fact]
    public async Task Ports_carry_number_and_uppercase_protocol()
    {
        var pod = Pod(configure: p => p.Spec.Containers[0].Ports =
        [
            new V1ContainerPort { Name = "http", ContainerPort = 8080, Protocol = "TCP" },
            new V1ContainerPort { ContainerPort = 5353, Protocol = "udp" },
            new V1ContainerPort { ContainerPort = 9090 },
        ]);

        Assert.Equal(
            [
                new("Container.1.Port.1.Port", "8080"), new("Container.1.Port.1.Protocol", "TCP"),
                new("Container.1.Port.2.Port", "5353"), new("Container.1.Port.2.Protocol", "UDP"),
                new("Container.1.Port.3.Port", "9090"),
            ],
            Prefixed(await Build(pod), "Container.1.Port."));
    }

    [Fact]
    public async Task Volume_mounts_carry_name_path_read_only_and_sub_path()
    {
        var pod = Pod(configure: p => p.Spec.Containers[0].VolumeMounts =
        [
            new V1VolumeMount { Name = "config", MountPath = "/etc/app", ReadOnlyProperty = true, SubPath = "app.yaml" },
            new V1VolumeMount { Name = "cache", MountPath = "/cache", ReadOnlyProperty = false },
            new V1VolumeMount { Name = "data", MountPath = "/data" },
        ]);

        Assert.Equal(
            [
                new("Container.1.VolumeMount.1.Name", "config"), new("Container.1.VolumeMount.1.MountPath", "/etc/app"),
                new("Container.1.VolumeMount.1.ReadOnly", "true"), new("Container.1.VolumeMount.1.SubPath", "app.yaml"),
                new("Container.1.VolumeMount.2.Name", "cache"), new("Container.1.VolumeMount.2.MountPath", "/cache"),
                new("Container.1.VolumeMount.2.ReadOnly", "false"),
                new("Container.1.VolumeMount.3.Name", "data"), new("Container.1.VolumeMount.3.MountPath", "/data"),
            ],
            Prefixed(await Build(pod), "Container.1.VolumeMount."));
    }

    [Fact]
    public async Task Probes_are_flattened_with_named_ports_resolved()
    {
        var pod = Pod(configure: p =>
        {
            var container = p.Spec.Containers[0];
            container.Ports = [new V1ContainerPort { Name = "http", ContainerPort = 8080 }];
            container.LivenessProbe = new V1Probe
            {
                HttpGet = new V1HTTPGetAction { Path = "/healthz", Port = "http", Scheme = "HTTPS" },
                InitialDelaySeconds = 5, PeriodSeconds = 10, TimeoutSeconds = 2, SuccessThreshold = 1, FailureThreshold = 3,
            };
            container.ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["cat", "/tmp/ready"] }, PeriodSeconds = 4 };
            container.StartupProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 8080 } };
        });

        var parameters = await Build(pod);

        Assert.Equal(
            [
                new("Container.1.LivenessProbe.HttpGet.Path", "/healthz"), new("Container.1.LivenessProbe.HttpGet.Port", "8080"),
                new("Container.1.LivenessProbe.HttpGet.Scheme", "HTTPS"), new("Container.1.LivenessProbe.InitialDelaySeconds", "5"),
                new("Container.1.LivenessProbe.PeriodSeconds", "10"), new("Container.1.LivenessProbe.TimeoutSeconds", "2"),
                new("Container.1.LivenessProbe.SuccessThreshold", "1"), new("Container.1.LivenessProbe.FailureThreshold", "3"),
            ],
            Prefixed(parameters, "Container.1.LivenessProbe."));
        Assert.Equal(
            [
                new("Container.1.ReadinessProbe.Exec.Command.1", "cat"), new("Container.1.ReadinessProbe.Exec.Command.2", "/tmp/ready"),
                new("Container.1.ReadinessProbe.PeriodSeconds", "4"),
            ],
            Prefixed(parameters, "Container.1.ReadinessProbe."));
        Assert.DoesNotContain(parameters, p => p.Key.Contains("StartupProbe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tcp_socket_probes_carry_the_port()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.Containers[0].Ports = [new V1ContainerPort { Name = "grpc", ContainerPort = 9000 }];
            p.Spec.Containers[0].ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "grpc" } };
            p.Spec.Containers[0].LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 9001 }, FailureThreshold = 6 };
        });

        var parameters = await Build(pod);

        Assert.Equal([new("Container.1.ReadinessProbe.TcpSocket.Port", "9000")], Prefixed(parameters, "Container.1.ReadinessProbe."));
        Assert.Equal(
            [new("Container.1.LivenessProbe.TcpSocket.Port", "9001"), new("Container.1.LivenessProbe.FailureThreshold", "6")],
            Prefixed(parameters, "Container.1.LivenessProbe."));
    }

    [Fact]
    public async Task A_probe_on_an_unknown_named_port_is_refused_naming_it()
    {
        var pod = Pod(configure: p => p.Spec.Containers[0].LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/", Port = "metrics" } });

        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(pod));

        Assert.Equal("InvalidParameter.Probe", error.Error.Code);
        Assert.Contains("spec.containers[0] (container 'app').livenessProbe.httpGet.port", error.Error.Message);
        Assert.Contains("'metrics'", error.Error.Message);
    }

    [Fact]
    public async Task Empty_dir_volumes_carry_medium_and_size_limit()
    {
        var pod = Pod(configure: p => p.Spec.Volumes =
        [
            new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() },
            new V1Volume { Name = "shm", EmptyDir = new V1EmptyDirVolumeSource { Medium = "Memory", SizeLimit = new ResourceQuantity("1Gi") } },
        ]);

        Assert.Equal(
            [
                new("Volume.1.Name", "scratch"), new("Volume.1.Type", "EmptyDirVolume"),
                new("Volume.2.Name", "shm"), new("Volume.2.Type", "EmptyDirVolume"),
                new("Volume.2.EmptyDirVolume.Medium", "Memory"), new("Volume.2.EmptyDirVolume.SizeLimit", "1Gi"),
            ],
            Prefixed(await Build(pod), "Volume."));
    }

    [Fact]
    public async Task Nfs_volumes_carry_server_path_and_read_only()
    {
        var pod = Pod(configure: p => p.Spec.Volumes =
            [new V1Volume { Name = "share", Nfs = new V1NFSVolumeSource { Server = "nas.example.com", Path = "/exports/shop", ReadOnlyProperty = true } }]);

        Assert.Equal(
            [
                new("Volume.1.Name", "share"), new("Volume.1.Type", "NFSVolume"), new("Volume.1.NFSVolume.Server", "nas.example.com"),
                new("Volume.1.NFSVolume.Path", "/exports/shop"), new("Volume.1.NFSVolume.ReadOnly", "true"),
            ],
            Prefixed(await Build(pod), "Volume."));
    }

    [Fact]
    public async Task Config_map_volumes_become_config_files_of_every_key_or_the_items()
    {
        var pod = Pod(configure: p => p.Spec.Volumes =
        [
            new V1Volume { Name = "all", ConfigMap = new V1ConfigMapVolumeSource { Name = "settings" } },
            new V1Volume
            {
                Name = "some",
                ConfigMap = new V1ConfigMapVolumeSource { Name = "settings", Items = [new V1KeyToPath { Key = "region", Path = "conf/region.txt" }] },
            },
        ]);

        Assert.Equal(
            [
                new("Volume.1.Name", "all"), new("Volume.1.Type", "ConfigFileVolume"),
                new("Volume.1.ConfigFileVolume.ConfigFileToPath.1.Path", "bad key"), new("Volume.1.ConfigFileVolume.ConfigFileToPath.1.Content", Base64("x")),
                new("Volume.1.ConfigFileVolume.ConfigFileToPath.2.Path", "log-level"), new("Volume.1.ConfigFileVolume.ConfigFileToPath.2.Content", Base64("debug")),
                new("Volume.1.ConfigFileVolume.ConfigFileToPath.3.Path", "region"), new("Volume.1.ConfigFileVolume.ConfigFileToPath.3.Content", Base64("cn-hangzhou")),
                new("Volume.2.Name", "some"), new("Volume.2.Type", "ConfigFileVolume"),
                new("Volume.2.ConfigFileVolume.ConfigFileToPath.1.Path", "conf/region.txt"), new("Volume.2.ConfigFileVolume.ConfigFileToPath.1.Content", Base64("cn-hangzhou")),
            ],
            Prefixed(await Build(pod, references: References()), "Volume."));
    }

    [Fact]
    public async Task Secret_volumes_become_config_files_of_the_raw_bytes()
    {
        var pod = Pod(configure: p => p.Spec.Volumes =
        [
            new V1Volume
            {
                Name = "tls",
                Secret = new V1SecretVolumeSource
                {
                    SecretName = "tls",
                    Items = [new V1KeyToPath { Key = "tls.key", Path = "server.key" }, new V1KeyToPath { Key = "ca.crt", Path = "ca.crt" }],
                    Optional = true,
                },
            },
        ]);

        // The optional secret has no ca.crt: that item is left out.
        Assert.Equal(
            [
                new("Volume.1.Name", "tls"), new("Volume.1.Type", "ConfigFileVolume"),
                new("Volume.1.ConfigFileVolume.ConfigFileToPath.1.Path", "server.key"),
                new("Volume.1.ConfigFileVolume.ConfigFileToPath.1.Content", Convert.ToBase64String([0, 1, 2, 255])),
            ],
            Prefixed(await Build(pod, references: References()), "Volume."));
    }

    [Fact]
    public async Task A_missing_optional_config_volume_is_an_empty_directory()
    {
        var pod = Pod(configure: p => p.Spec.Volumes =
        [
            new V1Volume { Name = "maybe", ConfigMap = new V1ConfigMapVolumeSource { Name = "absent", Optional = true } },
            new V1Volume { Name = "maybe-secret", Secret = new V1SecretVolumeSource { SecretName = "absent", Optional = true } },
        ]);

        Assert.Equal(
            [new("Volume.1.Name", "maybe"), new("Volume.1.Type", "EmptyDirVolume"), new("Volume.2.Name", "maybe-secret"), new("Volume.2.Type", "EmptyDirVolume")],
            Prefixed(await Build(pod, references: References()), "Volume."));
    }

    [Theory]
    [InlineData("absent", null, "ConfigMap 'shop/absent' not found")]
    [InlineData("settings", "absent", "key 'absent' not found in ConfigMap 'shop/settings'")]
    public async Task A_missing_required_config_volume_is_a_retryable_mount_error(string name, string? key, string problem)
    {
        var pod = Pod(configure: p => p.Spec.Volumes =
        [
            new V1Volume
            {
                Name = "config",
                ConfigMap = new V1ConfigMapVolumeSource { Name = name, Items = key is null ? null : [new V1KeyToPath { Key = key, Path = "f" }] },
            },
        ]);

        var error = await Assert.ThrowsAsync<TransientProviderException>(() => Build(pod, references: References()));

        Assert.Equal("FailedMount", error.Error.Code);
        Assert.Contains("spec.volumes[0] (volume 'config')", error.Error.Message);
        Assert.Contains(problem, error.Error.Message);
    }

    [Theory]
    [InlineData("hostPath")]
    [InlineData("persistentVolumeClaim")]
    [InlineData("projected")]
    [InlineData("downwardAPI")]
    public async Task Unsupported_volume_types_are_refused_naming_the_volume_and_type(string type)
    {
        var volume = new V1Volume { Name = "v" };
        switch (type)
        {
            case "hostPath": volume.HostPath = new V1HostPathVolumeSource { Path = "/var/run" }; break;
            case "persistentVolumeClaim": volume.PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "data" }; break;
            case "projected": volume.Projected = new V1ProjectedVolumeSource { Sources = [] }; break;
            case "downwardAPI": volume.DownwardAPI = new V1DownwardAPIVolumeSource(); break;
        }

        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(configure: p => p.Spec.Volumes = [volume])));

        Assert.Equal("UnsupportedPodSpec", error.Error.Code);
        Assert.Contains("spec.volumes[0] (volume 'v')", error.Error.Message);
        Assert.Contains($"{type} volumes", error.Error.Message);
    }

    [Fact]
    public async Task Image_pull_secrets_become_registry_credentials_and_missing_ones_are_skipped()
    {
        var pod = Pod(configure: p => p.Spec.ImagePullSecrets =
        [
            new V1LocalObjectReference { Name = "absent" },
            new V1LocalObjectReference { Name = "registry" },
            new V1LocalObjectReference { Name = "legacy" },
            new V1LocalObjectReference { Name = "db" },
        ]);

        Assert.Equal(
            [
                new("ImageRegistryCredential.1.Server", "registry.example.com"), new("ImageRegistryCredential.1.UserName", "alice"),
                new("ImageRegistryCredential.1.Password", "pa55"),
                new("ImageRegistryCredential.2.Server", "other.example.com:5000"), new("ImageRegistryCredential.2.UserName", "bob"),
                new("ImageRegistryCredential.2.Password", "s3:cret"),
                new("ImageRegistryCredential.3.Server", "old.example.com"), new("ImageRegistryCredential.3.UserName", "carol"),
                new("ImageRegistryCredential.3.Password", "pw"),
            ],
            Prefixed(await Build(pod, references: References()), "ImageRegistryCredential."));
    }

    [Fact]
    public async Task A_malformed_pull_secret_is_refused_naming_it()
    {
        var references = References();
        references.Secrets["shop/broken"] = new() { [".dockerconfigjson"] = Encoding.UTF8.GetBytes("{\"auths\":") };
        var pod = Pod(configure: p => p.Spec.ImagePullSecrets = [new V1LocalObjectReference { Name = "broken" }]);

        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(pod, references: references));

        Assert.Equal("InvalidParameter.ImageRegistryCredential", error.Error.Code);
        Assert.Contains("spec.imagePullSecrets", error.Error.Message);
        Assert.Contains("Secret 'shop/broken'", error.Error.Message);
    }

    [Fact]
    public async Task Spot_annotations_set_the_strategy_and_price_limit()
    {
        var goes = await Build(Pod(new() { ["k8s.aliyun.com/eci-spot-strategy"] = "SpotAsPriceGo", ["k8s.aliyun.com/eci-spot-price-limit"] = "0.2" }));
        Assert.Equal([new("SpotStrategy", "SpotAsPriceGo")], Group(goes, "SpotStrategy", "SpotPriceLimit"));

        var limited = await Build(Pod(new() { ["k8s.aliyun.com/eci-spot-strategy"] = "SpotWithPriceLimit", ["k8s.aliyun.com/eci-spot-price-limit"] = "0.250" }));
        Assert.Equal([new("SpotStrategy", "SpotWithPriceLimit"), new("SpotPriceLimit", "0.25")], Group(limited, "SpotStrategy", "SpotPriceLimit"));
    }

    [Fact]
    public async Task A_price_limited_spot_without_a_limit_is_refused()
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(new() { ["k8s.aliyun.com/eci-spot-strategy"] = "SpotWithPriceLimit" })));

        Assert.Equal("InvalidAnnotation", error.Error.Code);
        Assert.Contains("k8s.aliyun.com/eci-spot-price-limit", error.Error.Message);
        Assert.Contains("SpotWithPriceLimit", error.Error.Message);
    }

    [Fact]
    public async Task Image_cache_annotations_match_or_name_a_cache()
    {
        var parameters = await Build(Pod(new() { ["k8s.aliyun.com/eci-auto-imc"] = "true", ["k8s.aliyun.com/eci-imc-id"] = "imc-2zebxkiifuyzzlhl" }));
        Assert.Equal([new("AutoMatchImageCache", "true"), new("ImageSnapshotId", "imc-2zebxkiifuyzzlhl")], Group(parameters, "AutoMatchImageCache", "ImageSnapshotId"));

        var off = await Build(Pod(new() { ["k8s.aliyun.com/eci-auto-imc"] = "False" }));
        Assert.Equal([new("AutoMatchImageCache", "false")], Group(off, "AutoMatchImageCache", "ImageSnapshotId"));
    }

    [Theory]
    [InlineData("20Gi", "20")]
    [InlineData("1.5Gi", "2")]
    [InlineData("50G", "47")]
    public async Task Extra_ephemeral_storage_is_sent_in_whole_gib(string size, string gib)
    {
        var parameters = await Build(Pod(new() { ["k8s.aliyun.com/eci-extra-ephemeral-storage"] = size }));
        Assert.Equal(gib, Value(parameters, "EphemeralStorage"));
    }

    [Fact]
    public async Task Eip_annotations_create_or_bind_an_eip()
    {
        var created = await Build(Pod(new() { ["k8s.aliyun.com/eci-with-eip"] = "true", ["k8s.aliyun.com/eip-bandwidth"] = "10" }));
        Assert.Equal([new("AutoCreateEip", "true"), new("EipBandwidth", "10")], Group(created, "AutoCreateEip", "EipBandwidth", "EipInstanceId"));

        var bound = await Build(Pod(new() { ["k8s.aliyun.com/eci-eip-instanceid"] = "eip-bp1q5n8cq4p7f6dzu" }));
        Assert.Equal([new("EipInstanceId", "eip-bp1q5n8cq4p7f6dzu")], Group(bound, "AutoCreateEip", "EipBandwidth", "EipInstanceId"));

        var none = await Build(Pod(new() { ["k8s.aliyun.com/eci-with-eip"] = "false", ["k8s.aliyun.com/eip-bandwidth"] = "10" }));
        Assert.Empty(Group(none, "AutoCreateEip", "EipBandwidth", "EipInstanceId"));
    }

    [Fact]
    public async Task Creating_and_binding_an_eip_at_once_is_refused()
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(new()
        {
            ["k8s.aliyun.com/eci-with-eip"] = "true",
            ["k8s.aliyun.com/eci-eip-instanceid"] = "eip-bp1q5n8cq4p7f6dzu",
        })));

        Assert.Equal("InvalidAnnotation", error.Error.Code);
        Assert.Contains("k8s.aliyun.com/eci-with-eip", error.Error.Message);
        Assert.Contains("eip-bp1q5n8cq4p7f6dzu", error.Error.Message);
    }

    [Theory]
    [InlineData("k8s.aliyun.com/eci-vswitch", "vsw-a,,vsw-b")]
    [InlineData("k8s.aliyun.com/eci-vswitch", "subnet-1")]
    [InlineData("k8s.aliyun.com/eci-vswitch", "")]
    [InlineData("k8s.aliyun.com/eci-schedule-strategy", "Random")]
    [InlineData("k8s.aliyun.com/eci-security-group", "default")]
    [InlineData("k8s.aliyun.com/eci-security-group", "sg-a,sg-b")]
    [InlineData("k8s.aliyun.com/eci-spot-strategy", "Cheap")]
    [InlineData("k8s.aliyun.com/eci-spot-price-limit", "half")]
    [InlineData("k8s.aliyun.com/eci-spot-price-limit", "-0.5")]
    [InlineData("k8s.aliyun.com/eci-spot-price-limit", "0.1234")]
    [InlineData("k8s.aliyun.com/eci-auto-imc", "yes")]
    [InlineData("k8s.aliyun.com/eci-imc-id", "cache-1")]
    [InlineData("k8s.aliyun.com/eci-extra-ephemeral-storage", "20GB")]
    [InlineData("k8s.aliyun.com/eci-extra-ephemeral-storage", "20")]
    [InlineData("k8s.aliyun.com/eci-extra-ephemeral-storage", "-5Gi")]
    [InlineData("k8s.aliyun.com/eci-with-eip", "on")]
    [InlineData("k8s.aliyun.com/eip-bandwidth", "10M")]
    [InlineData("k8s.aliyun.com/eip-bandwidth", "0")]
    [InlineData("k8s.aliyun.com/eci-eip-instanceid", "1.2.3.4")]
    public async Task Malformed_annotations_are_refused_naming_the_annotation_and_value(string annotation, string value)
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(new() { [annotation] = value })));

        Assert.Equal("InvalidAnnotation", error.Error.Code);
        Assert.Contains($"metadata.annotations[{annotation}]", error.Error.Message);
        Assert.Contains($"'{value}'", error.Error.Message);
    }

    [Fact]
    public async Task Deadline_grace_period_dns_and_host_aliases_come_from_the_pod_spec()
    {
        var pod = Pod(configure: p =>
        {
            p.Spec.ActiveDeadlineSeconds = 3600;
            p.Spec.TerminationGracePeriodSeconds = 45;
            p.Spec.DnsPolicy = "None";
            p.Spec.DnsConfig = new V1PodDNSConfig
            {
                Nameservers = ["10.0.0.10"],
                Searches = ["shop.svc.cluster.local", "svc.cluster.local"],
                Options = [new V1PodDNSConfigOption { Name = "ndots", Value = "2" }, new V1PodDNSConfigOption { Name = "edns0" }],
            };
            p.Spec.HostAliases =
            [
                new V1HostAlias { Ip = "10.1.2.3", Hostnames = ["db.local", "db"] },
                new V1HostAlias { Ip = "10.1.2.4", Hostnames = ["cache.local"] },
            ];
        });

        var parameters = await Build(pod);

        Assert.Equal(
            [new("ActiveDeadlineSeconds", "3600"), new("TerminationGracePeriodSeconds", "45"), new("DnsPolicy", "None")],
            Group(parameters, "ActiveDeadlineSeconds", "TerminationGracePeriodSeconds", "DnsPolicy"));
        Assert.Equal(
            [
                new("DnsConfig.NameServer.1", "10.0.0.10"), new("DnsConfig.Search.1", "shop.svc.cluster.local"), new("DnsConfig.Search.2", "svc.cluster.local"),
                new("DnsConfig.Option.1.Name", "ndots"), new("DnsConfig.Option.1.Value", "2"), new("DnsConfig.Option.2.Name", "edns0"),
            ],
            Prefixed(parameters, "DnsConfig."));
        Assert.Equal(
            [
                new("HostAliase.1.Ip", "10.1.2.3"), new("HostAliase.1.Hostname.1", "db.local"), new("HostAliase.1.Hostname.2", "db"),
                new("HostAliase.2.Ip", "10.1.2.4"), new("HostAliase.2.Hostname.1", "cache.local"),
            ],
            Prefixed(parameters, "HostAliase."));
    }

    [Theory]
    [InlineData("Default", "Default")]
    [InlineData("ClusterFirst", null)]
    [InlineData("ClusterFirstWithHostNet", null)]
    public async Task Only_the_dns_policies_eci_knows_are_sent(string policy, string? sent)
    {
        var parameters = await Build(Pod(configure: p => p.Spec.DnsPolicy = policy));
        Assert.Equal(sent, Value(parameters, "DnsPolicy"));
    }

    [Fact]
    public async Task Unset_lifetimes_are_not_sent()
    {
        var keys = Keys(await Build(Pod()));

        Assert.DoesNotContain("ActiveDeadlineSeconds", keys);
        Assert.DoesNotContain("TerminationGracePeriodSeconds", keys);
        Assert.DoesNotContain("DnsPolicy", keys);
    }

    [Theory]
    [InlineData("status.hostIP", "fieldRef 'status.hostIP'")]
    [InlineData("metadata.labels", "fieldRef 'metadata.labels'")]
    public async Task Unsupported_field_refs_are_refused_naming_the_variable_and_path(string path, string named)
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(configure: p => p.Spec.Containers[0].Env = [Field("X", path)])));

        Assert.Equal("UnsupportedPodSpec", error.Error.Code);
        Assert.Contains("env var 'X'", error.Error.Message);
        Assert.Contains(named, error.Error.Message);
    }

    [Fact]
    public async Task A_resource_field_ref_without_any_value_is_refused_naming_it()
    {
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => Build(Pod(configure: p => p.Spec.Containers[0].Env = [Resource("MEM", "limits.memory")])));

        Assert.Equal("InvalidParameter.EnvironmentVar", error.Error.Code);
        Assert.Contains("env var 'MEM'", error.Error.Message);
        Assert.Contains("'limits.memory'", error.Error.Message);
    }

    [Fact]
    public async Task Unsupported_container_fields_are_refused_naming_them()
    {
        var sctp = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            Build(Pod(configure: p => p.Spec.Containers[0].Ports = [new V1ContainerPort { ContainerPort = 9, Protocol = "SCTP" }])));
        Assert.Contains("spec.containers[0] (container 'app').ports[0]", sctp.Error.Message);
        Assert.Contains("'SCTP'", sctp.Error.Message);

        var grpc = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            Build(Pod(configure: p => p.Spec.Containers[0].ReadinessProbe = new V1Probe { Grpc = new V1GRPCAction { Port = 9000 } })));
        Assert.Contains("spec.containers[0] (container 'app').readinessProbe", grpc.Error.Message);

        var medium = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            Build(Pod(configure: p => p.Spec.Volumes = [new V1Volume { Name = "huge", EmptyDir = new V1EmptyDirVolumeSource { Medium = "HugePages" } }])));
        Assert.Contains("spec.volumes[0] (volume 'huge')", medium.Error.Message);
        Assert.Contains("'HugePages'", medium.Error.Message);
    }

    // ----- helpers -----

    private static Task<IReadOnlyList<KeyValuePair<string, string>>> Build(
        V1Pod pod, InstanceSpec? spec = null, string name = "shop-web", EciPlacement? placement = null, IPodReferenceSource? references = null) =>
        ContainerGroupParameters.ForCreateAsync(new CreateContainerGroupRequest(Uid, name, pod, spec, NodeTags), placement ?? Placement, references ?? References());

    private static V1Pod Pod(Dictionary<string, string>? annotations = null, Action<V1Pod>? configure = null)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop", Uid = Uid, Annotations = annotations },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "app", Image = "registry.local/app:1" }] },
        };
        configure?.Invoke(pod);
        return pod;
    }

    private static InstanceSpec Spec(string text) => InstanceSpec.TryParse(text, out _) ?? throw new ArgumentException(text);

    private static Action<V1Pod> Sized(string cpu, string memory) => p => p.Spec.Containers[0].Resources = Resources(limits: (cpu, memory));

    private static V1ResourceRequirements Resources((string Cpu, string Memory)? limits = null, (string Cpu, string Memory)? requests = null) => new()
    {
        Limits = limits is { } l ? new Dictionary<string, ResourceQuantity> { ["cpu"] = new(l.Cpu), ["memory"] = new(l.Memory) } : null,
        Requests = requests is { } r ? new Dictionary<string, ResourceQuantity> { ["cpu"] = new(r.Cpu), ["memory"] = new(r.Memory) } : null,
    };

    private static V1EnvVar Field(string name, string path) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = path } } };

    private static V1EnvVar Resource(string name, string resource, string? container = null, string? divisor = null) => new()
    {
        Name = name,
        ValueFrom = new V1EnvVarSource
        {
            ResourceFieldRef = new V1ResourceFieldSelector { Resource = resource, ContainerName = container, Divisor = divisor is null ? null : new ResourceQuantity(divisor) },
        },
    };

    /// <summary>The expected EnvironmentVar entries; a null value means ECI fills status.podIP.</summary>
    private static List<KeyValuePair<string, string>> Env(params (string Key, string? Value)[] variables)
    {
        var expected = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < variables.Length; i++)
        {
            var prefix = $"Container.1.EnvironmentVar.{i + 1}.";
            expected.Add(new(prefix + "Key", variables[i].Key));
            expected.Add(variables[i].Value is { } value ? new(prefix + "Value", value) : new(prefix + "FieldRef.FieldPath", "status.podIP"));
        }

        return expected;
    }

    private static InMemoryReferences References()
    {
        var references = new InMemoryReferences();
        references.ConfigMaps["shop/settings"] = new() { ["log-level"] = "debug", ["region"] = "cn-hangzhou", ["bad key"] = "x" };
        references.Secrets["shop/db"] = new() { ["password"] = Encoding.UTF8.GetBytes("s3cret"), ["user"] = Encoding.UTF8.GetBytes("shop") };
        references.Secrets["shop/tls"] = new() { ["tls.key"] = [0, 1, 2, 255] };
        references.Secrets["shop/registry"] = new()
        {
            [".dockerconfigjson"] = Encoding.UTF8.GetBytes($$$"""
                {"auths": {
                  "https://registry.example.com/v2/": {"username": "alice", "password": "pa55"},
                  "other.example.com:5000": {"auth": "{{{Base64("bob:s3:cret")}}}"},
                  "token-only.example.com": {"identitytoken": "abc"}
                }}
                """),
        };
        references.Secrets["shop/legacy"] = new()
        {
            [".dockercfg"] = Encoding.UTF8.GetBytes("""{"old.example.com": {"username": "carol", "password": "pw"}, "registry.example.com": {"username": "dup", "password": "dup"}}"""),
        };
        return references;
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string? Value(IReadOnlyList<KeyValuePair<string, string>> parameters, string key) =>
        parameters.Where(p => p.Key == key).Select(p => p.Value).SingleOrDefault();

    private static List<string> Keys(IReadOnlyList<KeyValuePair<string, string>> parameters) => [.. parameters.Select(p => p.Key)];

    private static List<KeyValuePair<string, string>> Prefixed(IReadOnlyList<KeyValuePair<string, string>> parameters, string prefix) =>
        [.. parameters.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))];

    private static List<KeyValuePair<string, string>> Group(IReadOnlyList<KeyValuePair<string, string>> parameters, params string[] keys) =>
        [.. parameters.Where(p => keys.Contains(p.Key))];

    private sealed class InMemoryReferences : IPodReferenceSource
    {
        public Dictionary<string, Dictionary<string, string>> ConfigMaps { get; } = [];

        public Dictionary<string, Dictionary<string, byte[]>> Secrets { get; } = [];

        public Task<IReadOnlyDictionary<string, string>?> GetConfigMapAsync(string @namespace, string name, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyDictionary<string, string>?>(ConfigMaps.GetValueOrDefault($"{@namespace}/{name}"));

        public Task<IReadOnlyDictionary<string, byte[]>?> GetSecretAsync(string @namespace, string name, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyDictionary<string, byte[]>?>(Secrets.GetValueOrDefault($"{@namespace}/{name}"));
    }
}
