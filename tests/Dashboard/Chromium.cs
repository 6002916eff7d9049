using Microsoft.Playwright;

namespace VNodeMesh.Tests.Dashboard;

/// <summary>
/// Debian's Chromium driven by Playwright: the package's own driver runs offline, and the browser is
/// the system's (Playwright cannot download its builds here). <c>test.sh</c> installs the package.
/// </summary>
public static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install Debian's chromium package (apt-get install -y chromium; ./test.sh does it)");
        }

        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            Timeout = 60_000,
        });
        return (playwright, browser);
    }

    /// <summary>Where screenshots go: <c>$VNODEMESH_TEST_RESULTS/dashboard</c>, else the test project's <c>TestResults/dashboard</c>.</summary>
    public static string ScreenshotDirectory()
    {
        var root = Environment.GetEnvironmentVariable("VNODEMESH_TEST_RESULTS");
        if (string.IsNullOrEmpty(root))
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VNodeMesh.Tests.csproj")))
            {
                dir = dir.Parent;
            }

            root = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "TestResults");
        }

        return Directory.CreateDirectory(Path.Combine(root, "dashboard")).FullName;
    }

    /// <summary>
    /// A full-page screenshot, saved and checked to be a real picture of a page: a PNG of the page's
    /// size, too large to be a blank or nearly blank page.
    /// </summary>
    public static async Task<string> ScreenshotAsync(IPage page, string name, int minimumBytes = 15_000)
    {
        var path = Path.Combine(ScreenshotDirectory(), name + ".png");
        var png = await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Assert.True(png.Length > 24 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', $"{name}: not a PNG");
        var width = (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19];
        var height = (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23];
        Assert.Equal(page.ViewportSize!.Width, width);
        Assert.True(height >= page.ViewportSize.Height / 2, $"{name}: {width}x{height}");
        Assert.True(png.Length >= minimumBytes, $"{name}: a {png.Length}-byte screenshot is too small to show the page");
        return path;
    }
}
