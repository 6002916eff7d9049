using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VNodeMesh.Silo.Providers.Eci;

/// <summary>
/// The JSON shapes of ECI's answers, read by the client and written by the emulator, so that both
/// sides agree by construction. DescribeContainerGroupStatus items carry a <c>PodStatus</c>;
/// DescribeContainerGroups items carry <c>Containers[].CurrentState</c>.
/// </summary>
public static class EciWire
{
    public static string? String(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()
            : null;

    public static ContainerGroup ParseStatus(JsonElement item)
    {
        var podStatus = item.TryGetProperty("PodStatus", out var ps) ? ps : default;
        var containers = Array(podStatus, "ContainerStatuses").Select(ParseContainerStatus).ToList();
        return Group(item, containers, podStatus.String("PodIp") ?? item.String("IntranetIp"), podStatus.String("Reason"), podStatus.String("Message"));
    }

    public static ContainerGroup ParseGroup(JsonElement item)
    {
        var containers = Array(item, "Containers").Select(ParseContainer).ToList();
        return Group(item, containers, item.String("IntranetIp"), null, null);
    }

    public static ContainerGroupEvent ParseEvent(JsonElement e) => new(
        Time(e.String("FirstTimestamp")) ?? default,
        Time(e.String("LastTimestamp")) ?? default,
        int.TryParse(e.String("Count"), CultureInfo.InvariantCulture, out var count) ? count : 1,
        e.String("Type") ?? "Normal",
        e.String("Reason") ?? "",
        e.String("Message") ?? "");

    /// <summary>One item of DescribeContainerGroupStatus's <c>Data</c>.</summary>
    public static JsonObject StatusItem(ContainerGroup group) => new(Common(group))
    {
        ["PodStatus"] = new JsonObject
        {
            ["Phase"] = group.Status.ToPodPhase().ToString(),
            ["PodIp"] = group.IntranetIp,
            ["Reason"] = group.Reason,
            ["Message"] = group.Message,
            ["ContainerStatuses"] = new JsonArray([.. group.Containers.Select(c => (JsonNode)new JsonObject
            {
                ["Name"] = c.Name,
                ["Ready"] = c.Ready,
                ["RestartCount"] = c.RestartCount,
                ["State"] = c.State switch
                {
                    ContainerStateKind.Running => new JsonObject { ["Running"] = new JsonObject { ["StartedAt"] = Format(c.StartedAt) } },
                    ContainerStateKind.Terminated => new JsonObject
                    {
                        ["Terminated"] = new JsonObject
                        {
                            ["ExitCode"] = c.ExitCode,
                            ["Reason"] = c.Reason,
                            ["StartedAt"] = Format(c.StartedAt),
                            ["FinishedAt"] = Format(c.FinishedAt),
                        },
                    },
                    _ => new JsonObject { ["Waiting"] = new JsonObject { ["Reason"] = c.Reason } },
                },
            })]),
        },
    };

    /// <summary>One item of DescribeContainerGroups's <c>ContainerGroups</c>.</summary>
    public static JsonObject GroupItem(ContainerGroup group) => new(Common(group))
    {
        ["Containers"] = new JsonArray([.. group.Containers.Select(c => (JsonNode)new JsonObject
        {
            ["Name"] = c.Name,
            ["Ready"] = c.Ready,
            ["RestartCount"] = c.RestartCount,
            ["CurrentState"] = new JsonObject
            {
                ["State"] = c.State.ToString(),
                ["StartTime"] = Format(c.StartedAt),
                ["FinishTime"] = Format(c.FinishedAt),
                ["ExitCode"] = c.ExitCode,
                ["Reason"] = c.Reason,
            },
        })]),
    };

    public static JsonObject EventItem(ContainerGroupEvent e) => new()
    {
        ["FirstTimestamp"] = Format(e.FirstTimestamp),
        ["LastTimestamp"] = Format(e.LastTimestamp),
        ["Count"] = e.Count,
        ["Type"] = e.Type,
        ["Reason"] = e.Reason,
        ["Message"] = e.Message,
    };

    private static IEnumerable<KeyValuePair<string, JsonNode?>> Common(ContainerGroup group) =>
    [
        new("ContainerGroupId", group.ContainerGroupId),
        new("Status", group.Status.ToString()),
        new("ZoneId", group.ZoneId),
        new("InstanceType", group.Spec),
        new("IntranetIp", group.IntranetIp),
        new("CreationTime", Format(group.CreatedAt)),
        new("StatusChangedTime", Format(group.StatusChangedAt)),
        new("Tags", new JsonArray([.. group.Tags.Select(t => (JsonNode)new JsonObject { ["Key"] = t.Key, ["Value"] = t.Value })])),
    ];

    private static ContainerGroup Group(JsonElement item, List<ContainerState> containers, string? ip, string? reason, string? message)
    {
        var id = item.String("ContainerGroupId") ?? throw new TransientProviderException("MalformedAnswer", "a container group without ContainerGroupId");
        var statusText = item.String("Status");
        if (!Enum.TryParse<ContainerGroupStatus>(statusText, ignoreCase: false, out var status))
        {
            throw new TransientProviderException("MalformedAnswer", $"container group {id} has the unknown status '{statusText}'");
        }

        var tags = Array(item, "Tags").Where(t => t.String("Key") is not null)
            .GroupBy(t => t.String("Key")!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last().String("Value") ?? "", StringComparer.Ordinal);
        var created = Time(item.String("CreationTime")) ?? default;
        return new ContainerGroup(
            id,
            status,
            tags,
            containers,
            created,
            Time(item.String("StatusChangedTime")) ?? created,
            item.String("ZoneId"),
            Spec(item),
            ip,
            reason,
            message);
    }

    /// <summary>The instance type, or the vCPU-memory shape (<c>2-4Gi</c>) of a group created by size.</summary>
    private static string? Spec(JsonElement item)
    {
        if (item.String("InstanceType") is { Length: > 0 } type)
        {
            return type;
        }

        return double.TryParse(item.String("Cpu"), CultureInfo.InvariantCulture, out var cpu) && double.TryParse(item.String("Memory"), CultureInfo.InvariantCulture, out var memory)
            ? string.Create(CultureInfo.InvariantCulture, $"{cpu}-{memory}Gi")
            : null;
    }

    private static ContainerState ParseContainerStatus(JsonElement c)
    {
        var state = c.TryGetProperty("State", out var s) ? s : default;
        var name = c.String("Name") ?? "";
        var ready = c.TryGetProperty("Ready", out var r) && r.ValueKind == JsonValueKind.True;
        var restarts = int.TryParse(c.String("RestartCount"), CultureInfo.InvariantCulture, out var n) ? n : 0;
        if (state.ValueKind == JsonValueKind.Object && state.TryGetProperty("Running", out var running))
        {
            return new(name, ContainerStateKind.Running, ready, restarts, StartedAt: Time(running.String("StartedAt")));
        }

        if (state.ValueKind == JsonValueKind.Object && state.TryGetProperty("Terminated", out var terminated))
        {
            return new(name, ContainerStateKind.Terminated, ready, restarts,
                int.TryParse(terminated.String("ExitCode"), CultureInfo.InvariantCulture, out var exit) ? exit : null,
                terminated.String("Reason"), Time(terminated.String("StartedAt")), Time(terminated.String("FinishedAt")));
        }

        var waiting = state.ValueKind == JsonValueKind.Object && state.TryGetProperty("Waiting", out var w) ? w : default;
        return new(name, ContainerStateKind.Waiting, ready, restarts, Reason: waiting.String("Reason"));
    }

    private static ContainerState ParseContainer(JsonElement c)
    {
        var current = c.TryGetProperty("CurrentState", out var s) ? s : default;
        var kind = current.String("State") switch
        {
            "Running" => ContainerStateKind.Running,
            "Terminated" => ContainerStateKind.Terminated,
            _ => ContainerStateKind.Waiting,
        };
        return new(
            c.String("Name") ?? "",
            kind,
            c.TryGetProperty("Ready", out var r) && r.ValueKind == JsonValueKind.True,
            int.TryParse(c.String("RestartCount"), CultureInfo.InvariantCulture, out var n) ? n : 0,
            int.TryParse(current.String("ExitCode"), CultureInfo.InvariantCulture, out var exit) ? exit : null,
            current.String("Reason"),
            Time(current.String("StartTime")),
            Time(current.String("FinishTime")));
    }

    private static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : [];

    private static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : null;

    private static string? Format(DateTimeOffset? time) => time?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
