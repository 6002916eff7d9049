using VNodeMesh.Grains.Lifecycle;

namespace VNodeMesh.Tests.Lifecycle;

/// <summary>Exponential backoff with full jitter, and throttling's retry-after.</summary>
public sealed class RetryPolicyTests
{
    private static readonly RetryPolicy Policy = RetryPolicy.Default; // 500 ms base, 60 s cap

    [Fact]
    public void Default_policy_is_half_a_second_capped_at_a_minute()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(500), Policy.BaseDelay);
        Assert.Equal(TimeSpan.FromSeconds(60), Policy.MaxDelay);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(30)]
    [InlineData(1000)]
    public void Zero_jitter_means_no_wait(int attempt)
    {
        Assert.Equal(TimeSpan.Zero, Policy.Delay(attempt, 0));
    }

    [Theory]
    [InlineData(1, 500)]
    [InlineData(2, 1_000)]
    [InlineData(3, 2_000)]
    [InlineData(4, 4_000)]
    [InlineData(5, 8_000)]
    [InlineData(6, 16_000)]
    [InlineData(7, 32_000)]
    [InlineData(8, 60_000)]   // 64 s, capped
    [InlineData(9, 60_000)]
    [InlineData(31, 60_000)]
    [InlineData(100, 60_000)] // no overflow for huge attempts
    [InlineData(int.MaxValue, 60_000)]
    public void Full_jitter_reaches_base_times_two_to_the_attempt_minus_one_capped(int attempt, int ceilingMs)
    {
        var ceiling = TimeSpan.FromMilliseconds(ceilingMs);

        Assert.Equal(ceiling, Policy.Delay(attempt, 1.0));

        var almostOne = Policy.Delay(attempt, 0.999999);
        Assert.True(almostOne <= ceiling, $"{almostOne} > {ceiling}");
        Assert.True(almostOne >= ceiling * 0.9999, $"{almostOne} is well below {ceiling}");

        Assert.Equal(ceiling / 2, Policy.Delay(attempt, 0.5));
    }

    [Fact]
    public void Any_jitter_in_range_stays_within_zero_and_the_ceiling()
    {
        var random = new Random(1234);
        for (var attempt = 1; attempt <= 12; attempt++)
        {
            var ceiling = TimeSpan.FromMilliseconds(Math.Min(60_000, 500 * Math.Pow(2, attempt - 1)));
            for (var i = 0; i < 200; i++)
            {
                var jitter = random.NextDouble();
                var delay = Policy.Delay(attempt, jitter);
                Assert.InRange(delay, TimeSpan.Zero, ceiling);
            }
        }
    }

    [Fact]
    public void The_ceiling_never_shrinks_as_attempts_grow()
    {
        var previous = TimeSpan.Zero;
        for (var attempt = 1; attempt <= 64; attempt++)
        {
            var delay = Policy.Delay(attempt, 1.0);
            Assert.True(delay >= previous, $"attempt {attempt}: {delay} < {previous}");
            Assert.True(delay <= Policy.MaxDelay);
            previous = delay;
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Attempts_below_one_are_treated_as_the_first(int attempt)
    {
        Assert.Equal(Policy.BaseDelay, Policy.Delay(attempt, 1.0));
    }

    [Theory]
    [InlineData(-0.5, 0)]
    [InlineData(1.5, 1)]
    [InlineData(double.NegativeInfinity, 0)]
    [InlineData(double.PositiveInfinity, 1)]
    public void Jitter_out_of_range_is_clamped(double jitter, double clampedTo)
    {
        Assert.Equal(Policy.Delay(3, clampedTo), Policy.Delay(3, jitter));
        Assert.Equal(Policy.Delay(3, clampedTo, TimeSpan.FromSeconds(2)), Policy.Delay(3, jitter, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void A_custom_policy_uses_its_own_base_and_cap()
    {
        var policy = new RetryPolicy(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(1), policy.Delay(1, 1));
        Assert.Equal(TimeSpan.FromSeconds(4), policy.Delay(3, 1));
        Assert.Equal(TimeSpan.FromSeconds(5), policy.Delay(4, 1));
        Assert.Equal(TimeSpan.FromSeconds(2), policy.Delay(3, 0.5));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(0.999999)]
    [InlineData(1.0)]
    public void Retry_after_is_always_respected(double jitter)
    {
        foreach (var seconds in new[] { 1, 5, 30, 120 }) // 120 s: above the cap, still respected
        {
            var after = TimeSpan.FromSeconds(seconds);
            foreach (var attempt in new[] { 1, 4, 20 })
            {
                var delay = Policy.Delay(attempt, jitter, after);
                Assert.True(delay >= after, $"retry-after {after}, attempt {attempt}, jitter {jitter}: waited only {delay}");
                Assert.True(delay <= after * 2, $"{delay} spreads more than retry-after again");
            }
        }
    }

    [Fact]
    public void Retry_after_is_spread_by_the_jitter()
    {
        var after = TimeSpan.FromSeconds(4);
        Assert.Equal(after, Policy.Delay(1, 0, after));
        Assert.Equal(TimeSpan.FromSeconds(6), Policy.Delay(1, 0.5, after));
        Assert.Equal(TimeSpan.FromSeconds(8), Policy.Delay(1, 1, after));
        Assert.Equal(Policy.Delay(1, 0.5, after), Policy.Delay(9, 0.5, after)); // the provider's wait, not our attempt count
    }

    [Fact]
    public void Without_retry_after_the_exponential_backoff_applies()
    {
        for (var attempt = 1; attempt <= 10; attempt++)
        {
            Assert.Equal(Policy.Delay(attempt, 0.37), Policy.Delay(attempt, 0.37, null));
        }
    }
}
