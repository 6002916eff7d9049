using System.Globalization;
using System.Text.RegularExpressions;

namespace VNodeMesh.Tests.Telemetry;

/// <summary>One sample of a Prometheus text exposition: its labels and value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public bool Has(string label, string value) => Labels.TryGetValue(label, out var actual) && actual == value;
}

/// <summary>Reads the samples and metadata lines of a scrape.</summary>
public static partial class PrometheusText
{
    public static IReadOnlyList<PrometheusSample> Samples(string text, string name) =>
        text.Split('\n').Select(Parse).OfType<PrometheusSample>().Where(s => s.Name == name).ToList();

    /// <summary>The <c># TYPE</c>, <c># UNIT</c> or <c># HELP</c> line of a metric family, if any.</summary>
    public static string? Metadata(string text, string kind, string family) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith($"# {kind} {family} ", StringComparison.Ordinal))?.TrimEnd();

    private static PrometheusSample? Parse(string line)
    {
        var match = SampleLine().Match(line.TrimEnd());
        if (!match.Success)
        {
            return null;
        }

        var labels = LabelPair().Matches(match.Groups["labels"].Value)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Replace("\\\"", "\"", StringComparison.Ordinal));
        var value = match.Groups["value"].Value switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            var number => double.Parse(number, CultureInfo.InvariantCulture),
        };
        return new PrometheusSample(match.Groups["name"].Value, labels, value);
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
