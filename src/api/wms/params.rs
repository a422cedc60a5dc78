//! WMS key-value parameters: case-insensitive names, version negotiation,
//! and the map description shared by GetMap and GetFeatureInfo.

use super::exception::{ExceptionMode, WmsError, WmsResult};
use crate::raster::Format;
use crate::raster::crs::CrsFacts;

/// The WMS versions served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// WMS 1.1.1 (`SRS`, `X`/`Y`, lon/lat boxes everywhere).
    V111,
    /// WMS 1.3.0 (`CRS`, `I`/`J`, the CRS's own axis order).
    V130,
}

impl Version {
    /// The highest supported version lower than or equal to `requested`;
    /// the lowest one when it is lower than all; 1.3.0 when absent.
    pub fn negotiate(requested: Option<&str>) -> Version {
        let Some(v) = requested.and_then(parse_version) else {
            return Version::V130;
        };
        if v >= (1, 3, 0) {
            Version::V130
        } else {
            Version::V111
        }
    }

    /// The version a request other than GetCapabilities speaks: its
    /// `VERSION`, else the one its CRS/SRS parameter implies.
    pub fn of_request(kvp: &Kvp) -> Version {
        match kvp.get("VERSION").or_else(|| kvp.get("WMTVER")) {
            Some(v) => Version::negotiate(Some(v)),
            None if kvp.get("SRS").is_some() && kvp.get("CRS").is_none() => Version::V111,
            None => Version::V130,
        }
    }

    /// `1.1.1` or `1.3.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V111 => "1.1.1",
            Version::V130 => "1.3.0",
        }
    }

    /// Media type of exception reports.
    pub fn exception_type(self) -> &'static str {
        match self {
            Version::V111 => "application/vnd.ogc.se_xml",
            Version::V130 => "text/xml",
        }
    }

    /// Name of the CRS parameter.
    pub fn crs_param(self) -> &'static str {
        match self {
            Version::V111 => "SRS",
            Version::V130 => "CRS",
        }
    }

    /// Code of the "bad CRS" exception.
    pub fn invalid_crs_code(self) -> &'static str {
        match self {
            Version::V111 => "InvalidSRS",
            Version::V130 => "InvalidCRS",
        }
    }
}

fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// Request parameters; names are case-insensitive (kept upper-cased).
#[derive(Debug, Clone, Default)]
pub struct Kvp(Vec<(String, String)>);

impl Kvp {
    /// Parses a query string.
    pub fn parse(query: &str) -> Kvp {
        Kvp(url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.into_owned()))
            .collect())
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter (`MissingParameterValue` when absent or empty).
    pub fn require(&self, name: &'static str) -> WmsResult<&str> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(WmsError::missing(name)),
        }
    }

    /// A copy with `name` set to `value` when it is absent.
    pub fn with_default(&self, name: &str, value: &str) -> Kvp {
        let mut copy = self.clone();
        if copy.get(name).is_none() {
            copy.0.push((name.to_string(), value.to_string()));
        }
        copy
    }

    /// Every parameter, names upper-cased (for cache keys).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// What GetMap and GetFeatureInfo describe: layers, styles, the grid, the
/// image wanted.
#[derive(Debug, Clone)]
pub struct MapRequest {
    /// Protocol version.
    pub version: Version,
    /// Layer names, bottom first.
    pub layers: Vec<String>,
    /// One style per layer (empty: the layer's default).
    pub styles: Vec<String>,
    /// Vendor `OPACITY`, one per layer (0..=1).
    pub opacity: Vec<f64>,
    /// The CRS.
    pub crs: CrsFacts,
    /// (minx, miny, maxx, maxy) with x = easting or longitude.
    pub bbox: [f64; 4],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Image format.
    pub format: Format,
    /// Keep transparency.
    pub transparent: bool,
    /// Background colour.
    pub bgcolor: [u8; 3],
    /// Raw `TIME` value.
    pub time: Option<String>,
}

/// Image options every GetMap needs, read before anything that can fail so
/// that INIMAGE and BLANK exceptions can be drawn.
#[derive(Debug, Clone, Copy)]
pub struct ImageOptions {
    /// How errors are reported.
    pub exceptions: ExceptionMode,
    /// Format, when valid.
    pub format: Option<Format>,
    /// Size, when valid.
    pub size: Option<(usize, usize)>,
    /// Transparency.
    pub transparent: bool,
    /// Background.
    pub bgcolor: [u8; 3],
}

/// Reads `EXCEPTIONS`, `FORMAT`, `WIDTH`/`HEIGHT`, `TRANSPARENT`, `BGCOLOR`
/// leniently (the strict checks come with [`map_request`]).
pub fn image_options(kvp: &Kvp, max: (usize, usize)) -> ImageOptions {
    let size = match (
        size_param(kvp, "WIDTH", max.0),
        size_param(kvp, "HEIGHT", max.1),
    ) {
        (Ok(w), Ok(h)) => Some((w, h)),
        _ => None,
    };
    ImageOptions {
        exceptions: ExceptionMode::parse(kvp.get("EXCEPTIONS")).unwrap_or_default(),
        format: kvp.get("FORMAT").and_then(|f| image_format(f).ok()),
        size,
        transparent: transparent(kvp).unwrap_or(false),
        bgcolor: bgcolor(kvp).unwrap_or([255, 255, 255]),
    }
}

/// An image format from a media type (`image/png`, `image/png; mode=8bit`,
/// `image/jpeg`, `image/webp`).
pub fn image_format(value: &str) -> WmsResult<Format> {
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "image/png" | "png" | "image/png8" => Ok(Format::Png),
        "image/jpeg" | "image/jpg" | "jpeg" | "jpg" => Ok(Format::Jpeg),
        "image/webp" | "webp" => Ok(Format::Webp),
        _ => Err(WmsError::new(
            "InvalidFormat",
            "FORMAT",
            format!("FORMAT '{value}' is not image/png, image/jpeg or image/webp"),
        )),
    }
}

fn size_param(kvp: &Kvp, name: &'static str, max: usize) -> WmsResult<usize> {
    let raw = kvp.require(name)?;
    let v: usize = raw.trim().parse().map_err(|_| {
        WmsError::invalid(name, format!("{name} '{raw}' is not a positive integer"))
    })?;
    if v == 0 || v > max {
        return Err(WmsError::invalid(
            name,
            format!("{name} {v} is not between 1 and {max}"),
        ));
    }
    Ok(v)
}

fn transparent(kvp: &Kvp) -> WmsResult<bool> {
    match kvp
        .get("TRANSPARENT")
        .map(|v| v.trim().to_ascii_uppercase())
    {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "FALSE" => Ok(false),
        Some(v) if v == "TRUE" => Ok(true),
        Some(v) => Err(WmsError::invalid(
            "TRANSPARENT",
            format!("TRANSPARENT '{v}' is not TRUE or FALSE"),
        )),
    }
}

fn bgcolor(kvp: &Kvp) -> WmsResult<[u8; 3]> {
    let Some(raw) = kvp.get("BGCOLOR") else {
        return Ok([255, 255, 255]);
    };
    let hex = raw
        .trim()
        .strip_prefix("0x")
        .or_else(|| raw.trim().strip_prefix("0X"))
        .or_else(|| raw.trim().strip_prefix('#'))
        .unwrap_or(raw.trim());
    let bad = || WmsError::invalid("BGCOLOR", format!("BGCOLOR '{raw}' is not 0xRRGGBB"));
    if hex.len() != 6 {
        return Err(bad());
    }
    let v = u32::from_str_radix(hex, 16).map_err(|_| bad())?;
    Ok([(v >> 16) as u8, (v >> 8) as u8, v as u8])
}

/// Comma-separated names (`LAYERS`, `STYLES`, `QUERY_LAYERS`).
pub fn names(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).collect()
}

/// Reads and checks a map description. `crs_of` resolves a CRS name among
/// the advertised ones.
pub fn map_request(
    kvp: &Kvp,
    version: Version,
    max: (usize, usize),
    crs_of: impl Fn(&str) -> Option<CrsFacts>,
) -> WmsResult<MapRequest> {
    ExceptionMode::parse(kvp.get("EXCEPTIONS"))?;
    let layers = names(kvp.require("LAYERS")?);
    if layers.iter().any(String::is_empty) {
        return Err(WmsError::new(
            "LayerNotDefined",
            "LAYERS",
            "LAYERS has an empty name",
        ));
    }
    let styles = match kvp.get("STYLES") {
        None => vec![String::new(); layers.len()],
        Some(s) if s.trim().is_empty() => vec![String::new(); layers.len()],
        Some(s) => {
            let s = names(s);
            if s.len() != layers.len() {
                return Err(WmsError::new(
                    "StyleNotDefined",
                    "STYLES",
                    format!(
                        "STYLES has {} entries for {} layers (give one per layer, empty for the default)",
                        s.len(),
                        layers.len()
                    ),
                ));
            }
            s
        }
    };
    let opacity = match kvp.get("OPACITY") {
        None => vec![1.0; layers.len()],
        Some(raw) => {
            let values = raw
                .split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|o| (0.0..=1.0).contains(o))
                })
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| {
                    WmsError::invalid(
                        "OPACITY",
                        format!("OPACITY '{raw}' is not numbers between 0 and 1"),
                    )
                })?;
            match values.len() {
                1 => vec![values[0]; layers.len()],
                n if n == layers.len() => values,
                n => {
                    return Err(WmsError::invalid(
                        "OPACITY",
                        format!("OPACITY has {n} values for {} layers", layers.len()),
                    ));
                }
            }
        }
    };
    let crs_param = match version {
        // Some 1.1.1 clients send CRS and some 1.3.0 clients SRS.
        Version::V111 => kvp.get("SRS").or_else(|| kvp.get("CRS")),
        Version::V130 => kvp.get("CRS").or_else(|| kvp.get("SRS")),
    };
    let crs_name = match crs_param {
        Some(c) if !c.trim().is_empty() => c,
        _ => return Err(WmsError::missing(version.crs_param())),
    };
    let crs = crs_of(crs_name).ok_or_else(|| {
        WmsError::new(
            version.invalid_crs_code(),
            version.crs_param(),
            format!(
                "{} '{crs_name}' is not offered by this service",
                version.crs_param()
            ),
        )
    })?;
    let bbox = bbox(
        kvp.require("BBOX")?,
        version == Version::V130 && crs.northing_first,
    )?;
    let format = image_format(kvp.require("FORMAT")?)?;
    Ok(MapRequest {
        version,
        layers,
        styles,
        opacity,
        crs,
        bbox,
        width: size_param(kvp, "WIDTH", max.0)?,
        height: size_param(kvp, "HEIGHT", max.1)?,
        format,
        transparent: transparent(kvp)?,
        bgcolor: bgcolor(kvp)?,
        time: match kvp.get("TIME").map(str::trim) {
            None => None,
            Some("") => {
                return Err(WmsError::new(
                    "MissingDimensionValue",
                    "TIME",
                    "TIME is given without a value (omit it for the latest acquisition, or give a date, an interval or a list)",
                ));
            }
            Some(t) => Some(t.to_string()),
        },
    })
}

/// `minx,miny,maxx,maxy` (swapped to x-first when the CRS puts northing first).
fn bbox(raw: &str, northing_first: bool) -> WmsResult<[f64; 4]> {
    let v: Vec<f64> = raw
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| WmsError::invalid("BBOX", format!("BBOX '{raw}' is not four numbers")))?;
    let [a, b, c, d] = v[..] else {
        return Err(WmsError::invalid(
            "BBOX",
            format!("BBOX '{raw}' is not four numbers"),
        ));
    };
    if !v.iter().all(|x| x.is_finite()) || a >= c || b >= d {
        return Err(WmsError::invalid(
            "BBOX",
            format!("BBOX '{raw}': the minimum must be less than the maximum on both axes"),
        ));
    }
    Ok(if northing_first {
        [b, a, d, c]
    } else {
        [a, b, c, d]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::crs::describe;

    #[test]
    fn versions_negotiate_down() {
        assert_eq!(Version::negotiate(None), Version::V130);
        assert_eq!(Version::negotiate(Some("1.3.0")), Version::V130);
        assert_eq!(Version::negotiate(Some("2.0.0")), Version::V130);
        assert_eq!(Version::negotiate(Some("1.2.0")), Version::V111);
        assert_eq!(Version::negotiate(Some("1.1.1")), Version::V111);
        assert_eq!(Version::negotiate(Some("1.0.0")), Version::V111);
        assert_eq!(Version::negotiate(Some("junk")), Version::V130);
    }

    fn request(q: &str) -> WmsResult<MapRequest> {
        let kvp = Kvp::parse(q);
        let version = Version::of_request(&kvp);
        map_request(&kvp, version, (4096, 4096), |c| describe(c).ok())
    }

    #[test]
    fn axis_order_depends_on_version_and_crs() {
        let base = "LAYERS=a&STYLES=&WIDTH=10&HEIGHT=10&FORMAT=image/png";
        let r = request(&format!(
            "{base}&VERSION=1.3.0&CRS=EPSG:4326&BBOX=43,1,44,2"
        ))
        .unwrap();
        assert_eq!(r.bbox, [1.0, 43.0, 2.0, 44.0]);
        let r = request(&format!("{base}&VERSION=1.3.0&CRS=CRS:84&BBOX=1,43,2,44")).unwrap();
        assert_eq!(r.bbox, [1.0, 43.0, 2.0, 44.0]);
        let r = request(&format!(
            "{base}&VERSION=1.1.1&SRS=EPSG:4326&BBOX=1,43,2,44"
        ))
        .unwrap();
        assert_eq!(r.bbox, [1.0, 43.0, 2.0, 44.0]);
        let r = request(&format!("{base}&version=1.3.0&crs=EPSG:2154&bbox=1,2,3,4")).unwrap();
        assert_eq!(r.bbox, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_values_name_their_code() {
        // A valid request with one parameter replaced.
        let with = |key: &str, value: &str| {
            let mut params = vec![
                ("VERSION", "1.3.0"),
                ("LAYERS", "a,b"),
                ("WIDTH", "10"),
                ("HEIGHT", "10"),
                ("FORMAT", "image/png"),
                ("CRS", "EPSG:3857"),
                ("BBOX", "0,0,1,1"),
            ];
            params.retain(|(k, _)| *k != key);
            params.push((key, value));
            let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request(&q.join("&")).map(|_| ()).unwrap_err().code.unwrap()
        };
        assert_eq!(with("BBOX", "2,0,1,1"), "InvalidParameterValue");
        assert_eq!(with("BBOX", "0,0,1"), "InvalidParameterValue");
        assert_eq!(with("STYLES", "x"), "StyleNotDefined");
        assert_eq!(with("FORMAT", "image/gif"), "InvalidFormat");
        assert_eq!(with("CRS", "EPSG:1"), "InvalidCRS");
        assert_eq!(with("WIDTH", "99999"), "InvalidParameterValue");
        assert_eq!(with("HEIGHT", "0"), "InvalidParameterValue");
        assert_eq!(with("TRANSPARENT", "yes"), "InvalidParameterValue");
        assert_eq!(with("OPACITY", "2"), "InvalidParameterValue");
        assert_eq!(with("EXCEPTIONS", "SHOUT"), "InvalidParameterValue");
        assert_eq!(with("LAYERS", ""), "MissingParameterValue");
        assert_eq!(with("TIME", ""), "MissingDimensionValue");
        assert_eq!(
            request(
                "VERSION=1.1.1&LAYERS=a&WIDTH=10&HEIGHT=10&FORMAT=image/png&SRS=EPSG:1&BBOX=0,0,1,1"
            )
            .map(|_| ())
            .unwrap_err()
            .code,
            Some("InvalidSRS")
        );
    }

    #[test]
    fn options_are_lenient_and_typed() {
        let r = request(
            "VERSION=1.3.0&LAYERS=a,b&STYLES=,x&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH=5&HEIGHT=6\
             &FORMAT=image/jpeg&TRANSPARENT=true&BGCOLOR=0x102030&OPACITY=0.5&TIME=2023-06-15&DPI=96",
        )
        .unwrap();
        assert_eq!(r.styles, vec!["", "x"]);
        assert_eq!(r.opacity, vec![0.5, 0.5]);
        assert_eq!((r.width, r.height, r.format), (5, 6, Format::Jpeg));
        assert!(r.transparent);
        assert_eq!(r.bgcolor, [0x10, 0x20, 0x30]);
        assert_eq!(r.time.as_deref(), Some("2023-06-15"));
    }
}
