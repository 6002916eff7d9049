using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace VNodeMesh.Silo.Web.Dashboard;

/// <summary>
/// The shared-token check and the login form's session cookie. A session is an expiry signed with
/// the token (HMAC-SHA256): it proves the token was given without carrying it, holds on every silo
/// that has the same token, and ends when the token is changed.
/// </summary>
public sealed class DashboardSessions(IOptions<DashboardOptions> options, TimeProvider time)
{
    public const string CookieName = "VNodeMesh.Dashboard";

    private byte[] Key => Encoding.UTF8.GetBytes(options.Value.Token ?? "");

    /// <summary>Whether <paramref name="candidate"/> is the dashboard's token, in constant time.</summary>
    public bool IsToken(string? candidate)
    {
        if (string.IsNullOrEmpty(candidate) || string.IsNullOrEmpty(options.Value.Token))
        {
            return false;
        }

        // Hashes first, so the comparison takes the same time whatever the lengths.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate)), SHA256.HashData(Key));
    }

    public (string Value, DateTimeOffset Expires) Issue()
    {
        var expires = time.GetUtcNow() + options.Value.SessionLifetime;
        var seconds = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return ($"{seconds}.{Sign(seconds)}", DateTimeOffset.FromUnixTimeSeconds(long.Parse(seconds, CultureInfo.InvariantCulture)));
    }

    public bool IsValid(string? session)
    {
        var dot = session?.IndexOf('.') ?? -1;
        if (session is null || dot <= 0 || string.IsNullOrEmpty(options.Value.Token)
            || !long.TryParse(session.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var expires)
            || DateTimeOffset.FromUnixTimeSeconds(Math.Min(expires, DateTimeOffset.MaxValue.ToUnixTimeSeconds())) <= time.GetUtcNow())
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Sign(session[..dot]));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(session[(dot + 1)..]));
    }

    private string Sign(string expires) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(Key, Encoding.ASCII.GetBytes("vnodemesh-dashboard-session:" + expires)));
}
