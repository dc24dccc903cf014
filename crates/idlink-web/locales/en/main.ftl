# idlink H5 pages — English. Every key here exists in zh-CN and zh-HK too (a test checks).

app-name = idlink
app-tagline = Your verified identity, and who may see your records
skip-to-content = Skip to main content
nav-label = Main menu
lang-label = Language
lang-change = Change language
elder-label = Larger text
elder-turn-on = Turn on larger text and buttons
elder-turn-off = Turn off larger text and buttons
form-errors-title = Please fix the following
field-required = Required
back-home = Back to home

login-title = Log in with your phone
login-intro = We send a 6-digit code by SMS. The first login creates your account.
login-phone-label = Mobile number
login-phone-hint = 11 digits, for example 138 1234 1234
login-send-code = Send code
login-code-title = Enter the code
login-code-sent = We sent a 6-digit code to { $phone }. It is valid for a few minutes.
login-code-label = 6-digit code
login-code-hint = Digits only, from the SMS
login-submit = Log in
login-other-phone = Use another number
device-check-title = Confirm this new device
device-check-intro = This phone or browser has not been used with your account before. We sent a second code to { $phone } to confirm it is you.
device-check-submit = Confirm device
logout = Log out
logged-out = You have logged out.

home-title = My identity
home-welcome = You are logged in on { $device }.
home-menu-identity = Real-name verification
home-menu-cards = Bank cards and balances
home-menu-security = Payment password and devices
home-menu-access = Who accessed my data

problem-generic = Something went wrong ({ $code }). Please try again; if it keeps happening, contact support with this code.
field-invalid_phone = Enter an 11-digit mainland mobile number, such as 138 1234 1234.
field-invalid_code = The code is the 6 digits from the SMS.
problem-code_wrong = That code is not right. Check the SMS and try again.
problem-challenge_gone = This code has expired or was used. Ask for a new code.
problem-rate_limited = Too many codes were requested. You can ask again in { $seconds } seconds.
problem-institution_unavailable = We could not send the SMS just now. Please try again in { $seconds } seconds.
problem-session_required = Please log in first.
problem-session_invalid = Your session has ended. Please log in again.
problem-device_check_required = Confirm this new device with the code we sent first.
problem-csrf = This form was open too long or came from another site. We reloaded it: please send it again.
