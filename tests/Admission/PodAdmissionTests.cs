using k8s.Models;
using VNodeMesh.Grains.Lifecycle;
using VNodeMesh.Tests.Infrastructure;

namespace VNodeMesh.Tests.Admission;

public sealed class PodAdmissionTests
{
    [Fact]
    public void A_plain_pod_is_admitted_with_the_default_settings()
    {
        var admitted = Assert.IsType<Admitted>(PodAdmission.Admit(TestPods.Create("plain")));
        Assert.Equal(PodSettings.Default.MaxPending, admitted.Settings.MaxPending);
        Assert.Equal(FailStrategy.FailBack, admitted.Settings.FailStrategy);
        Assert.Empty(admitted.Settings.Specs);
    }

    [Fact]
    public void Annotations_are_parsed_into_settings()
    {
        var admitted = Assert.IsType<Admitted>(PodAdmission.Admit(TestPods.Create("annotated", new Dictionary<string, string>
        {
            [PodAnnotations.UseSpecs] = "2-4Gi, 0.5-1Gi,ecs.c6.xlarge",
            [PodAnnotations.FailStrategy] = "fail-fast",
            [PodAnnotations.MaxPendingMinute] = "1440",
        })));

        Assert.Equal(["2-4Gi", "0.5-1Gi", "ecs.c6.xlarge"], admitted.Settings.Specs.Select(s => s.Text));
        Assert.Equal(0.5, admitted.Settings.Specs[1].Cpu);
        Assert.Equal("ecs.c6.xlarge", admitted.Settings.Specs[2].InstanceType);
        Assert.Equal(FailStrategy.FailFast, admitted.Settings.FailStrategy);
        Assert.Equal(TimeSpan.FromMinutes(1440), admitted.Settings.MaxPending);
    }

    [Theory]
    [InlineData("9")]
    [InlineData("1441")]
    [InlineData("-20")]
    [InlineData("ten")]
    [InlineData("")]
    public void Max_pending_minute_outside_10_to_1440_is_refused(string value)
    {
        var refused = Assert.IsType<Refused>(PodAdmission.Admit(TestPods.Create("p", new Dictionary<string, string> { [PodAnnotations.MaxPendingMinute] = value })));
        Assert.Equal(PodAdmission.ReasonInvalidAnnotation, refused.Reason);
        Assert.Contains("eci-max-pending-minute", refused.Message);
        Assert.Contains($"'{value}'", refused.Message);
    }

    [Theory]
    [InlineData("2-4")]
    [InlineData("2Gi")]
    [InlineData("2-4Gi,,4-8Gi")]
    [InlineData("c6.xlarge")]
    [InlineData("0-4Gi")]
    public void Unparsable_use_specs_are_refused_naming_the_entry(string value)
    {
        var refused = Assert.IsType<Refused>(PodAdmission.Admit(TestPods.Create("p", new Dictionary<string, string> { [PodAnnotations.UseSpecs] = value })));
        Assert.Contains("metadata.annotations[k8s.aliyun.com/eci-use-specs]", refused.Message);
    }

    [Fact]
    public void A_pod_without_containers_is_refused()
    {
        var refused = Assert.IsType<Refused>(PodAdmission.Admit(TestPods.Create("empty", configure: p => p.Spec.Containers = [])));
        Assert.Contains("spec.containers", refused.Message);
    }

    [Fact]
    public void Host_namespaces_are_refused()
    {
        var refused = Assert.IsType<Refused>(PodAdmission.Admit(TestPods.Create("pid", configure: p => p.Spec.HostPID = true)));
        Assert.Contains("spec.hostPID", refused.Message);
    }

    [Fact]
    public void Capabilities_without_privilege_are_admitted()
    {
        var pod = TestPods.Create("caps", configure: p => p.Spec.Containers[0].SecurityContext = new V1SecurityContext
        {
            Privileged = false,
            Capabilities = new V1Capabilities { Add = ["NET_ADMIN"] },
        });
        Assert.IsType<Admitted>(PodAdmission.Admit(pod));
    }

    [Fact]
    public void Owners_other_than_DaemonSets_are_admitted()
    {
        var pod = TestPods.Create("rs", configure: p => p.Metadata.OwnerReferences =
            [new V1OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = "web", Uid = Guid.NewGuid().ToString() }]);
        Assert.IsType<Admitted>(PodAdmission.Admit(pod));
    }
}
