using System.Threading.RateLimiting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace VNodeMesh.Silo.Providers.Redis;

/// <summary>
/// The account's create/delete budget kept in Redis, so that every silo process of a cluster spends one
/// bucket: a silo joining or leaving changes nobody's budget. The key names the service and cluster ids,
/// so two clusters sharing a Redis keep their own budgets.
/// </summary>
public sealed class RedisProviderBudget(IConnectionMultiplexer redis, RedisKey key, TimeProvider? time = null, ILoggerFactory? loggers = null) : IProviderBudget
{
    public IConnectionMultiplexer Redis { get; } = redis;

    public RedisKey Key { get; } = key;

    public static RedisKey KeyFor(ClusterOptions cluster) => $"vnodemesh:{cluster.ServiceId}:{cluster.ClusterId}:provider-budget";

    public RateLimiter CreateLimiter(ProviderQuotaOptions quota) => Create(quota);

    public RedisTokenBucketRateLimiter Create(ProviderQuotaOptions quota)
    {
        var shape = BudgetShape.Of(quota);
        return new RedisTokenBucketRateLimiter(
            Redis,
            new RedisTokenBucketOptions(Key, shape.Burst, shape.PerSecond) { UnavailableTimeout = quota.RedisTimeout },
            time,
            loggers?.CreateLogger<RedisTokenBucketRateLimiter>());
    }

    /// <summary>Reads the bucket once: fails with a message naming Redis when it cannot.</summary>
    public async Task CheckAsync(ProviderQuotaOptions quota, CancellationToken cancellationToken)
    {
        using var limiter = Create(quota);
        try
        {
            await limiter.PeekAsync(cancellationToken).WaitAsync(quota.RedisTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var endpoints = string.Join(",", Redis.GetEndPoints().Select(e => e.ToString()));
            var why = ex is TimeoutException ? $"no answer within {quota.RedisTimeout.TotalSeconds:0.###} s" : ex.Message;
            throw new InvalidOperationException(
                $"The cluster's create/delete budget cannot use Redis ({(endpoints.Length == 0 ? "no endpoint" : endpoints)}, key {Key}): {why}", ex);
        }
    }
}
