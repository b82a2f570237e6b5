namespace KonvoyLb.Tests.Bgp;

public class BgpFuzzTests
{
    // The benchmark (`KonvoyLb.Bench bgp-fuzz`) runs a million inputs; CI runs 20,000 of two seeds.
    [Theory]
    [InlineData(1)]
    [InlineData(20260601)]
    public void Mutated_and_random_inputs_never_throw(int seed)
    {
        var report = BgpFuzz.Run(10_000, seed);
        Assert.Equal(10_000, report.Inputs);
        Assert.Equal(report.Inputs, report.Decoded + report.Errors);
        Assert.True(report.Decoded > 500, report.ToMarkdown());
        Assert.True(report.FramedMessages > report.Decoded, report.ToMarkdown());
        Assert.All(report.Mutations.Values, count => Assert.True(count > 500));
        // The mutations reach deep into the decoder, not only its header checks.
        Assert.True(report.ErrorCounts.Count >= 14, report.ToMarkdown());
        Assert.Contains((byte)3, report.ErrorCounts.Keys.Select(k => k.Code));
    }
}
