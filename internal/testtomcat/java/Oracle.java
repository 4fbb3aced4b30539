// Oracle is an embedded Tomcat 9 with one servlet that answers, in JSON,
// what Tomcat parsed from the bytes it received, and what net.oauth
// (release 20100527, the OAuth library under Atlassian's service provider)
// would build from it: the OAuth message of HttpRequestMessage (the
// Authorization header's OAuth parameters, realm excluded, plus
// getParameterMap()), its signature base string, and its verdict.
//
// The net.oauth computations are written here from its documented
// behaviour, with the JDK only: no net.oauth jar is needed.
//
// Usage: java -cp <classes>:<tomcat jars> Oracle <config file>
// The config file is "key value" lines (see testtomcat.go). Once Tomcat
// listens it prints "READY <port>" on stdout; closing stdin stops it.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

public final class Oracle {
    /** A consumer the oracle verifies signatures of. */
    static final class Consumer {
        PublicKey rsa;   // RSA-SHA1, or
        String secret;   // HMAC-SHA1 (consumer secret; the token secret is "")
    }

    static final Map<String, Consumer> consumers = new HashMap<>();
    static long windowMillis = 5 * 60 * 1000L;

    public static void main(String[] args) throws Exception {
        Map<String, String> cfg = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            line = line.trim();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] kv = line.split(" ", 2);
            String v = kv.length > 1 ? kv[1] : "";
            if (kv[0].equals("rsa") || kv[0].equals("hmac")) {
                String[] c = v.split(" ", 2);
                Consumer con = new Consumer();
                if (kv[0].equals("rsa")) {
                    byte[] der = Base64.getDecoder().decode(c[1]);
                    con.rsa = KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(der));
                } else {
                    con.secret = new String(Base64.getDecoder().decode(c[1]), StandardCharsets.UTF_8);
                }
                consumers.put(new String(Base64.getDecoder().decode(c[0]), StandardCharsets.UTF_8), con);
                continue;
            }
            cfg.put(kv[0], v);
        }

        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(cfg.get("basedir"));
        // Jira's connector (its server.xml): body encoding for the query,
        // UTF-8 URIs, and the characters it lets through unencoded.
        Connector c = new Connector("HTTP/1.1");
        c.setPort(Integer.parseInt(cfg.get("port")));
        c.setProperty("address", "127.0.0.1");
        c.setURIEncoding("UTF-8");
        c.setUseBodyEncodingForURI(true);
        c.setProperty("relaxedPathChars", "[]|");
        c.setProperty("relaxedQueryChars", "[]|{}^\\`\"<>");
        c.setProperty("maxHttpHeaderSize", "8192");
        c.setProperty("connectionTimeout", "20000");
        if (cfg.containsKey("proxyName")) {
            c.setProxyName(cfg.get("proxyName"));
            c.setProxyPort(Integer.parseInt(cfg.get("proxyPort")));
            c.setScheme(cfg.getOrDefault("scheme", "http"));
        }
        tomcat.setConnector(c);

        Context ctx = tomcat.addContext(cfg.getOrDefault("contextPath", ""), null);
        if (cfg.getOrDefault("encodingFilter", "true").equals("true")) {
            FilterDef fd = new FilterDef();
            fd.setFilterName("encoding");
            fd.setFilter(new EncodingFilter());
            ctx.addFilterDef(fd);
            FilterMap fm = new FilterMap();
            fm.setFilterName("encoding");
            fm.addURLPattern("/*");
            ctx.addFilterMap(fm);
        }
        Tomcat.addServlet(ctx, "oracle", new EchoServlet());
        ctx.addServletMappingDecoded("/", "oracle");
        tomcat.start();
        System.out.println("READY " + c.getLocalPort());
        System.out.flush();

        // The test ends it by closing stdin (or by a signal).
        InputStream in = System.in;
        while (in.read() >= 0) {
        }
        tomcat.stop();
        tomcat.destroy();
        System.exit(0);
    }

    /**
     * Jira's encoding filter: UTF-8 for requests that declare no charset
     * (Tomcat's default would be ISO-8859-1, for the query too, with
     * useBodyEncodingForURI).
     */
    static final class EncodingFilter implements Filter {
        @Override
        public void doFilter(ServletRequest req, ServletResponse resp, FilterChain chain)
                throws IOException, ServletException {
            if (req.getCharacterEncoding() == null) {
                req.setCharacterEncoding("UTF-8");
            }
            chain.doFilter(req, resp);
        }
    }

    static final class EchoServlet extends HttpServlet {
        private static final long serialVersionUID = 1L;

        @Override
        protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            Json j = new Json();
            j.open();
            j.field("method", req.getMethod());
            j.field("requestURI", req.getRequestURI());
            j.field("requestURL", req.getRequestURL().toString());
            j.field("queryString", req.getQueryString());
            j.field("contentType", req.getContentType());
            j.field("characterEncoding", req.getCharacterEncoding());

            // getParameterMap: what the product reads, in Tomcat's order.
            Map<String, String[]> pm = req.getParameterMap();
            j.key("params");
            j.arrayOpen();
            for (Map.Entry<String, String[]> e : pm.entrySet()) {
                j.arrayOpen();
                j.string(e.getKey());
                j.arrayOpen();
                for (String v : e.getValue()) {
                    j.string(v);
                }
                j.arrayClose();
                j.arrayClose();
            }
            j.arrayClose();
            Object failed = req.getAttribute("org.apache.catalina.parameter_parse_failed");
            j.field("parseFailed", failed == null ? null : String.valueOf(failed));
            Object reason = req.getAttribute("org.apache.catalina.parameter_parse_failed_reason");
            j.field("parseFailedReason", reason == null ? null : String.valueOf(reason));

            j.key("headers");
            j.arrayOpen();
            for (Enumeration<String> names = req.getHeaderNames(); names.hasMoreElements();) {
                String name = names.nextElement();
                for (Enumeration<String> vs = req.getHeaders(name); vs.hasMoreElements();) {
                    j.arrayOpen();
                    j.string(name);
                    j.string(vs.nextElement());
                    j.arrayClose();
                }
            }
            j.arrayClose();

            // What is left of the body once Tomcat parsed (or did not parse) it.
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            InputStream in = req.getInputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0;) {
                body.write(buf, 0, n);
            }
            j.field("body", new String(body.toByteArray(), StandardCharsets.ISO_8859_1));

            j.field("xoauthRequestorId", req.getParameter("xoauth_requestor_id"));
            j.field("userId", req.getParameter("user_id"));
            j.field("osUsername", req.getParameter("os_username"));

            j.key("oauth");
            NetOAuth.describe(req, j);
            j.close();

            byte[] out = j.toString().getBytes(StandardCharsets.UTF_8);
            resp.setStatus(200);
            resp.setContentType("application/json;charset=UTF-8");
            resp.setHeader("X-Oracle", "tomcat");
            resp.setContentLength(out.length);
            OutputStream os = resp.getOutputStream();
            os.write(out);
            os.flush();
        }
    }

    /** net.oauth 20100527, as its provider side reads a request. */
    static final class NetOAuth {
        // OAuthMessage.AUTHORIZATION and NVP.
        static final Pattern AUTHORIZATION = Pattern.compile("\\s*(\\w*)\\s+(.*)");
        static final Pattern NVP = Pattern.compile("(\\S*)\\s*\\=\\s*\"([^\"]*)\"");

        static final Set<String> SINGLE = new HashSet<>(List.of("oauth_consumer_key", "oauth_token",
                "oauth_token_secret", "oauth_callback", "oauth_signature_method", "oauth_signature",
                "oauth_timestamp", "oauth_nonce", "oauth_version"));

        /** OAuth.percentEncode. */
        static String percentEncode(String s) {
            if (s == null) {
                return "";
            }
            return URLEncoder.encode(s, StandardCharsets.UTF_8)
                    .replace("+", "%20").replace("*", "%2A").replace("%7E", "~");
        }

        /** OAuth.decodePercent. */
        static String decodePercent(String s) {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        }

        /** OAuthMessage.decodeAuthorization. */
        static List<String[]> decodeAuthorization(String authorization) {
            List<String[]> into = new ArrayList<>();
            if (authorization != null) {
                Matcher m = AUTHORIZATION.matcher(authorization);
                if (m.matches() && "OAuth".equalsIgnoreCase(m.group(1))) {
                    for (String nvp : m.group(2).split("\\s*,\\s*")) {
                        m = NVP.matcher(nvp);
                        if (m.matches()) {
                            into.add(new String[] {decodePercent(m.group(1)), decodePercent(m.group(2))});
                        }
                    }
                }
            }
            return into;
        }

        /** OAuthSignatureMethod.normalizeUrl. */
        static String normalizeUrl(String url) throws Exception {
            URI uri = new URI(url);
            String scheme = uri.getScheme().toLowerCase();
            String authority = uri.getAuthority().toLowerCase();
            boolean dropPort = (scheme.equals("http") && uri.getPort() == 80)
                    || (scheme.equals("https") && uri.getPort() == 443);
            if (dropPort) {
                int index = authority.lastIndexOf(":");
                if (index >= 0) {
                    authority = authority.substring(0, index);
                }
            }
            String path = uri.getRawPath();
            if (path == null || path.length() <= 0) {
                path = "/";
            }
            return scheme + "://" + authority + path;
        }

        /** OAuthSignatureMethod.normalizeParameters. */
        static String normalizeParameters(List<String[]> params) {
            List<String[]> p = new ArrayList<>();
            for (String[] kv : params) {
                if (!"oauth_signature".equals(kv[0])) {
                    p.add(new String[] {percentEncode(kv[0]) + ' ' + percentEncode(kv[1]), kv[0], kv[1]});
                }
            }
            Collections.sort(p, (a, b) -> a[0].compareTo(b[0]));
            StringBuilder b = new StringBuilder();
            for (String[] kv : p) {
                if (b.length() > 0) {
                    b.append('&');
                }
                b.append(percentEncode(kv[1])).append('=').append(percentEncode(kv[2]));
            }
            return b.toString();
        }

        /** OAuth.newMap: the first value of each name. */
        static String first(List<String[]> params, String name) {
            for (String[] kv : params) {
                if (kv[0].equals(name)) {
                    return kv[1];
                }
            }
            return null;
        }

        static void describe(HttpServletRequest req, Json j) {
            j.open();
            // HttpRequestMessage.getParameters.
            List<String[]> params = new ArrayList<>();
            int fromHeader = 0;
            String error = null;
            try {
                for (Enumeration<String> hs = req.getHeaders("Authorization"); hs.hasMoreElements();) {
                    for (String[] kv : decodeAuthorization(hs.nextElement())) {
                        if (!"realm".equalsIgnoreCase(kv[0])) {
                            params.add(kv);
                            fromHeader++;
                        }
                    }
                }
            } catch (RuntimeException e) {
                error = "Authorization header: " + e;
            }
            for (Map.Entry<String, String[]> e : req.getParameterMap().entrySet()) {
                for (String v : e.getValue()) {
                    params.add(new String[] {e.getKey(), v});
                }
            }
            j.key("params");
            j.arrayOpen();
            for (String[] kv : params) {
                j.arrayOpen();
                j.string(kv[0]);
                j.string(kv[1]);
                j.arrayClose();
            }
            j.arrayClose();
            j.field("fromHeader", String.valueOf(fromHeader));

            String url = req.getRequestURL().toString();
            String base = null;
            if (error == null) {
                try {
                    base = percentEncode(req.getMethod().toUpperCase()) + '&'
                            + percentEncode(normalizeUrl(url)) + '&'
                            + percentEncode(normalizeParameters(params));
                } catch (Exception e) {
                    error = "base string: " + e;
                }
            }
            j.field("baseString", base);
            j.field("error", error);
            String problem = error == null ? validate(params, base) : "error";
            j.field("problem", problem);
            j.close();
        }

        /**
         * SimpleOAuthValidator.validateMessage (single parameters, version,
         * timestamp; nonces are not remembered: a test sends one request to
         * the oracle and through the proxy), then the signature with the
         * consumer's key: "" when the message is valid, else the
         * oauth_problem (or "error" for an exception net.oauth would throw).
         */
        static String validate(List<String[]> params, String base) {
            boolean any = false;
            for (String[] kv : params) {
                any |= kv[0].startsWith("oauth_");
            }
            if (!any) {
                return "none";
            }
            Map<String, Integer> counts = new HashMap<>();
            for (String[] kv : params) {
                if (SINGLE.contains(kv[0]) && counts.merge(kv[0], 1, Integer::sum) > 1) {
                    return "parameter_rejected";
                }
            }
            String version = first(params, "oauth_version");
            if (version != null) {
                double v;
                try {
                    v = Double.parseDouble(version);
                } catch (NumberFormatException e) {
                    return "error";
                }
                if (v < 1.0 || 1.0 < v) {
                    return "version_rejected";
                }
            }
            String ts = first(params, "oauth_timestamp");
            if (ts == null || first(params, "oauth_nonce") == null) {
                return "parameter_absent";
            }
            long t;
            try {
                t = Long.parseLong(ts) * 1000L;
            } catch (NumberFormatException e) {
                return "error";
            }
            long now = System.currentTimeMillis();
            if (t < now - windowMillis || now + windowMillis < t) {
                return "timestamp_refused";
            }
            String key = first(params, "oauth_consumer_key");
            String method = first(params, "oauth_signature_method");
            String sig = first(params, "oauth_signature");
            if (key == null || method == null || sig == null) {
                return "parameter_absent";
            }
            Consumer c = consumers.get(key);
            if (c == null) {
                return "consumer_key_unknown";
            }
            try {
                // commons-codec's Base64, as net.oauth decodes: characters
                // outside the alphabet are skipped.
                byte[] actual = Base64.getMimeDecoder().decode(sig);
                byte[] data = base.getBytes(StandardCharsets.UTF_8);
                switch (method) {
                case "RSA-SHA1":
                    if (c.rsa == null) {
                        return "signature_method_rejected";
                    }
                    Signature s = Signature.getInstance("SHA1withRSA");
                    s.initVerify(c.rsa);
                    s.update(data);
                    return s.verify(actual) ? "" : "signature_invalid";
                case "HMAC-SHA1":
                    if (c.secret == null) {
                        return "signature_method_rejected";
                    }
                    Mac mac = Mac.getInstance("HmacSHA1");
                    String k = percentEncode(c.secret) + '&' + percentEncode("");
                    mac.init(new SecretKeySpec(k.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
                    return java.security.MessageDigest.isEqual(mac.doFinal(data), actual) ? "" : "signature_invalid";
                default:
                    return "signature_method_rejected";
                }
            } catch (Exception e) {
                return "signature_invalid";
            }
        }
    }

    /** A small JSON writer: every non-ASCII character as \\uXXXX. */
    static final class Json {
        private final StringBuilder b = new StringBuilder();
        private boolean first = true;

        void sep() {
            if (!first) {
                b.append(',');
            }
            first = false;
        }

        void open() {
            sep();
            b.append('{');
            first = true;
        }

        void close() {
            b.append('}');
            first = false;
        }

        void arrayOpen() {
            sep();
            b.append('[');
            first = true;
        }

        void arrayClose() {
            b.append(']');
            first = false;
        }

        void key(String k) {
            sep();
            quote(k);
            b.append(':');
            first = true;
        }

        void field(String k, String v) {
            key(k);
            string(v);
        }

        void string(String s) {
            sep();
            if (s == null) {
                b.append("null");
                return;
            }
            quote(s);
        }

        private void quote(String s) {
            b.append('"');
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                if (ch == '"' || ch == '\\') {
                    b.append('\\').append(ch);
                } else if (ch < 0x20 || ch > 0x7e) {
                    b.append(String.format("\\u%04x", (int) ch));
                } else {
                    b.append(ch);
                }
            }
            b.append('"');
        }

        @Override
        public String toString() {
            return b.toString();
        }
    }
}
