using System.Globalization;

namespace VNodeMesh.Contracts.Provider;

/// <summary>
/// One entry of <c>k8s.aliyun.com/eci-use-specs</c>: either vCPU-memory (<c>2-4Gi</c>) or an
/// ECS instance type (<c>ecs.c6.xlarge</c>).
/// </summary>
[GenerateSerializer, Immutable, Alias("VNodeMesh.InstanceSpec")]
public sealed record InstanceSpec(
    [property: Id(0)] string Text,
    [property: Id(1)] double? Cpu,
    [property: Id(2)] double? MemoryGiB,
    [property: Id(3)] string? InstanceType)
{
    public override string ToString() => Text;

    /// <summary>Parses one spec; returns null with an error that names the offending text.</summary>
    public static InstanceSpec? TryParse(string text, out string? error)
    {
        error = null;
        var s = text.Trim();
        if (s.StartsWith("ecs.", StringComparison.Ordinal) && s.Length > 4 && s.Count(c => c == '.') >= 2
            && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-'))
        {
            return new InstanceSpec(s, null, null, s);
        }

        var dash = s.IndexOf('-');
        if (dash > 0 && s.EndsWith("Gi", StringComparison.Ordinal)
            && double.TryParse(s.AsSpan(0, dash), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpu)
            && double.TryParse(s.AsSpan(dash + 1, s.Length - dash - 3), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var mem)
            && cpu > 0 && mem > 0)
        {
            return new InstanceSpec(s, cpu, mem, null);
        }

        error = $"'{text}' is neither <vCPU>-<memory>Gi (e.g. 2-4Gi) nor an instance type (e.g. ecs.c6.xlarge)";
        return null;
    }
}
