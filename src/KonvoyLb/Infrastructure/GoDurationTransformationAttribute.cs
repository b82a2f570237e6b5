using System.Globalization;
using System.Management.Automation;

namespace KonvoyLb.Infrastructure;

/// <summary>Lets -HoldTime take a TimeSpan or a number of seconds as well as a Go duration string ("90s").</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class GoDurationTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject p ? p.BaseObject : inputData;
        return value switch
        {
            TimeSpan t => ((long)t.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s",
            int or long or uint or short => System.Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture) + "s",
            _ => inputData,
        };
    }
}
