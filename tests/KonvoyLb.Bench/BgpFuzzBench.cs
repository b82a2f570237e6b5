using KonvoyLb.Tests.Bgp;

namespace KonvoyLb.Bench;

/// <summary>
/// A million mutated inputs through the BGP decoder and framer (tests/KonvoyLb.Tests/Bgp/BgpFuzz.cs,
/// compiled into this project too). Fails on the first exception; reports inputs per second.
/// Seed and count come from BGP_FUZZ_SEED and BGP_FUZZ_INPUTS when set.
/// </summary>
static class BgpFuzzBench
{
    public static string Run()
    {
        long inputs = long.TryParse(Environment.GetEnvironmentVariable("BGP_FUZZ_INPUTS"), out var n) ? n : 1_000_000;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("BGP_FUZZ_SEED"), out var s) ? s : 4271;
        BgpFuzz.Run(20_000, seed + 1); // warm-up
        var report = BgpFuzz.Run(inputs, seed);
        return $"Seed {seed}.\n\n" + report.ToMarkdown();
    }
}
